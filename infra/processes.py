"""Starting, finding and stopping long-running local processes (broker, database, services).

Every process runs in its own process group (``start_new_session``) so that stopping it also
stops whatever it spawned, and so that Ctrl-C in the terminal that started it does not reach it.
A JSON pid file records what was started; a later command (``stack.py down``) or another test
run adopts the process from that file, after checking that the pid still runs the same command
line (pids are reused).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_POLL_S = 0.1

# Processes started by this Python process, by pid: a ManagedProcess adopted from a pid file in
# the same process (e.g. kill_kafka after start_kafka) must still reap its child, both to leave
# no zombie and because waitpid is the one reliable "it is completely gone, ports closed" signal.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ProcessError(RuntimeError):
    """A managed process could not be started, or died or hung while starting."""


@dataclass
class ManagedProcess:
    """A process started by :func:`start_process`, or adopted from its pid file."""

    name: str
    pid: int
    argv: tuple[str, ...]
    log_path: Path
    pid_file: Path | None = None
    # Set only in the process that started it: lets us reap the child (no zombies) and read
    # its exit code. An adopted process is watched through its pid instead.
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def alive(self) -> bool:
        if self._popen is not None:
            if self._popen.poll() is None:
                return True
            _children.pop(self.pid, None)
            return False
        return _pid_runs(self.pid, self.argv)

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to exit; True if it has."""
        deadline = time.monotonic() + timeout
        while self.alive:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL; forget the pid file."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash, as fault tests want it."""
        self._end(signal.SIGKILL, 0.0)

    def _end(self, first: signal.Signals, grace: float) -> None:
        pgid = self._own_group()
        if pgid is not None:
            _signal(pgid, self.pid, first)
            if not self.wait(grace):
                _signal(pgid, self.pid, signal.SIGKILL)
                self.wait(10.0)
            if pgid:  # the leader is gone; take down anything it left behind in its group
                _signal(pgid, self.pid, signal.SIGKILL)
        self._forget()

    def _own_group(self) -> int | None:
        """The process group to signal: ours lead one (pgid == pid). None if not running."""
        if not self.alive:
            return None
        try:
            pgid = os.getpgid(self.pid)
        except ProcessLookupError:
            return None
        return pgid if pgid == self.pid else 0  # 0: not a group leader, signal the pid alone

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def _forget(self) -> None:
        if self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError, ValueError):
                # Only remove the file if it still describes this process (not a newer start).
                if _read_pid_file(self.pid_file).get("pid") == self.pid:
                    self.pid_file.unlink()


def start_process(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None,
    log_path: Path,
    pid_dir: Path | None,
    *,
    cwd: Path | None = None,
    inherit_env: bool = True,
) -> ManagedProcess:
    """Start ``argv`` in its own process group, stdout and stderr appended to ``log_path``.

    ``env`` is added on top of this process's environment (or used alone when ``inherit_env``
    is False). With a ``pid_dir`` a ``<name>.pid`` file is written so that ``stack.py down``
    and :func:`load_process` can find the process later.
    """
    args = tuple(os.fspath(a) for a in argv)
    full_env = {**(os.environ if inherit_env else {}), **(env or {})}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # A header per start: logs are appended across restarts, this says where each begins.
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start {name}: {' '.join(args)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file = None
    if pid_dir is not None:
        pid_dir.mkdir(parents=True, exist_ok=True)
        pid_file = pid_dir / f"{name}.pid"
        record = {
            "name": name,
            "pid": popen.pid,
            "argv": list(args),
            "log_path": str(log_path),
            "started_at": time.time(),
        }
        tmp = pid_file.with_suffix(".pid.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(pid_file)
    _children[popen.pid] = popen
    return ManagedProcess(name, popen.pid, args, log_path, pid_file, popen)


def load_process(pid_file: Path) -> ManagedProcess | None:
    """The live process a pid file describes, or None (and the stale file removed)."""
    try:
        record = _read_pid_file(pid_file)
        pid, argv = record["pid"], record["argv"]
        if not isinstance(pid, int) or not isinstance(argv, list):
            raise TypeError("pid record without a pid or an argv")
        proc = ManagedProcess(
            name=str(record["name"]),
            pid=pid,
            argv=tuple(str(a) for a in argv),
            log_path=Path(str(record["log_path"])),
            pid_file=pid_file,
            _popen=_children.get(pid),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        pid_file.unlink(missing_ok=True)  # unreadable: written by a crash mid-way, or by hand
        return None
    if not proc.alive:
        pid_file.unlink(missing_ok=True)
        return None
    return proc


def managed_processes(pid_dir: Path) -> list[ManagedProcess]:
    """Every live process with a pid file in ``pid_dir``."""
    if not pid_dir.is_dir():
        return []
    found = (load_process(p) for p in sorted(pid_dir.glob("*.pid")))
    return [p for p in found if p is not None]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port_closed(host: str, port: int, timeout: float = 5.0) -> bool:
    """Wait until nothing listens on ``host:port`` any more; False if something still does."""
    deadline = time.monotonic() + timeout
    while port_open(host, port, timeout=0.2):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def wait_port(host: str, port: int, timeout: float = 30.0, process: ManagedProcess | None = None) -> None:
    """Wait until ``host:port`` accepts TCP connections; fail fast if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        _check_still_starting(process, f"{host}:{port}", deadline, timeout)
        time.sleep(_POLL_S)


def wait_http(url: str, timeout: float = 30.0, process: ManagedProcess | None = None) -> int:
    """Wait until ``url`` answers a GET with any status below 500; return that status."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # the server is up; the route may just want other input
                return exc.code
        except (urllib.error.URLError, OSError):
            pass
        _check_still_starting(process, url, deadline, timeout)
        time.sleep(_POLL_S)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * lines))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_lock_guard = threading.RLock()
_held_locks: dict[Path, tuple[int, int]] = {}  # path -> (fd, depth)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared with other processes (flock) and re-entrant in this one.

    Two pytest workers, or a test run and a ``stack.py`` command, must not both start a broker
    on the same port or fetch into the same cache at once. Re-entrant so that e.g.
    ``restart_kafka`` can call ``stop_kafka`` and ``start_kafka``, which lock as well.
    """
    path = path.resolve()
    with _lock_guard:
        if path in _held_locks:
            fd, depth = _held_locks[path]
            _held_locks[path] = (fd, depth + 1)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            _held_locks[path] = (fd, 1)
        try:
            yield
        finally:
            fd, depth = _held_locks[path]
            if depth > 1:
                _held_locks[path] = (fd, depth - 1)
            else:
                del _held_locks[path]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _check_still_starting(process: ManagedProcess | None, what: str, deadline: float, timeout: float) -> None:
    if process is not None and not process.alive:
        raise ProcessError(
            f"{process.name} exited (code {process.returncode}) before {what} was ready; log {process.log_path}:\n{process.log_tail()}"
        )
    if time.monotonic() >= deadline:
        log = f"; log {process.log_path}:\n{process.log_tail()}" if process is not None else ""
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s{log}")


def _signal(pgid: int, pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pgid:
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)


def _read_pid_file(pid_file: Path) -> dict[str, object]:
    record = json.loads(pid_file.read_text())
    if not isinstance(record, dict):
        raise TypeError(f"{pid_file}: not a pid record")
    return record


def _pid_runs(pid: int, argv: Sequence[str]) -> bool:
    """True if ``pid`` is a live (non-zombie) process running ``argv``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: the cmdline check below decides
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():  # no procfs (macOS): trust the signal check
        return True
    try:
        # Field 3 of stat is the state; a zombie has exited and is only waiting to be reaped, but
        # a zombie *leader* can still have threads shutting down (and holding its sockets).
        if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return len(list(proc.joinpath("task").iterdir())) > 1
        cmdline = proc.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    # The pid may have been reused since the pid file was written: same command line or not ours.
    return [a for a in cmdline if a] == [a for a in argv if a]
