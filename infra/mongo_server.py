"""A MongoDB-protocol server for development and tests: SecantusDB, a pip-installable server
that speaks the MongoDB wire protocol and supports transactions and change streams on a single
standalone node (real MongoDB needs a replica set for those; docker-compose.yml runs one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .processes import ManagedProcess, ProcessError, file_lock, load_process, start_process, wait_port, wait_port_closed
from .profiles import Profile

SECANTUS_REQUIREMENT = "SecantusDB==0.7.0b3"
PROCESS_NAME = "mongo"


def data_dir(profile: Profile) -> Path:
    return profile.run_dir / "mongo-data"


def ensure_secantus_installed() -> None:
    """Install SecantusDB into this interpreter if it is missing.

    Normally it is already there (a dependency of the workspace); this covers running
    infra/stack.py with another Python.
    """
    if importlib.util.find_spec("secantus") is not None:
        return
    if importlib.util.find_spec("pip") is not None:
        command = [sys.executable, "-m", "pip", "install", "--quiet", SECANTUS_REQUIREMENT]
    elif (uv := shutil.which("uv")) is not None:  # uv-made venvs have no pip
        command = [uv, "pip", "install", "--quiet", "--python", sys.executable, SECANTUS_REQUIREMENT]
    else:
        raise ProcessError(
            f"SecantusDB is not installed and neither pip nor uv is available: install {SECANTUS_REQUIREMENT} into {sys.executable}"
        )
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    importlib.invalidate_caches()
    if result.returncode != 0 or importlib.util.find_spec("secantus") is None:
        raise ProcessError(f"installing {SECANTUS_REQUIREMENT} failed:\n{result.stdout}\n{result.stderr}")


def _lock(profile: Profile) -> contextlib.AbstractContextManager[None]:
    return file_lock(profile.run_dir / "mongo.lock")


def mongo_process(profile: Profile) -> ManagedProcess | None:
    """The database server this profile started, if it still runs."""
    return load_process(profile.pid_dir / f"{PROCESS_NAME}.pid")


def start_mongo(profile: Profile, timeout: float = 30.0) -> ManagedProcess:
    """Start the profile's database server (or reuse the running one) and wait for a ping."""
    with _lock(profile):
        running = mongo_process(profile)
        if running is not None:
            wait_mongo_ready(profile.mongodb_url, timeout, running)
            return running
        if not wait_port_closed("127.0.0.1", profile.mongo_port, timeout=3.0):  # grace for one just killed
            raise ProcessError(
                f"port {profile.mongo_port} is taken by a process that profile {profile.name!r} did not "
                f"start (no live pid file in {profile.pid_dir}). Stop it, or set MONGODB_URL to use "
                f"that server instead."
            )
        ensure_secantus_installed()
        data_dir(profile).mkdir(parents=True, exist_ok=True)
        process = start_process(
            PROCESS_NAME,
            [
                sys.executable,
                str(Path(__file__).with_name("secantus_daemon.py")),
                "--host",
                "127.0.0.1",
                "--port",
                str(profile.mongo_port),
                "--storage-path",
                str(data_dir(profile)),
            ],
            env=None,
            log_path=profile.log_dir / "mongo.log",
            pid_dir=profile.pid_dir,
            # secantus reads ./secantusd.toml when present: run it where there is none of ours.
            cwd=profile.run_dir,
        )
        try:
            wait_mongo_ready(profile.mongodb_url, timeout, process)
        except BaseException:
            process.stop(timeout=10.0)
            raise
        return process


def stop_mongo(profile: Profile, timeout: float = 20.0) -> None:
    """Clean shutdown (SIGTERM: the server closes its storage), SIGKILL after ``timeout`` s."""
    with _lock(profile):
        process = mongo_process(profile)
        if process is not None:
            process.stop(timeout)


def kill_mongo(profile: Profile) -> None:
    """SIGKILL the database server: a crash. The data stays; :func:`start_mongo` recovers it."""
    with _lock(profile):
        process = mongo_process(profile)
        if process is not None:
            process.kill()


def wait_mongo_ready(url: str, timeout: float = 30.0, process: ManagedProcess | None = None) -> None:
    """Wait until the server at ``url`` answers ``ping``."""
    from pymongo import MongoClient

    deadline = time.monotonic() + timeout
    if process is not None:
        host, port = _host_port(url)
        wait_port(host, port, timeout, process)
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive:
            break
        client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return
        except Exception as exc:  # noqa: BLE001 - any failure means 'not up yet'; the last one is reported
            last_error = exc
            time.sleep(0.2)
        finally:
            client.close()
    detail = f"; log {process.log_path}:\n{process.log_tail()}" if process is not None else ""
    state = "exited" if process is not None and not process.alive else f"not ready after {timeout:.0f} s"
    raise ProcessError(f"MongoDB server at {url} {state} (last error: {last_error!r}){detail}")


def _host_port(url: str) -> tuple[str, int]:
    """Host and port of a single-host ``mongodb://`` URL (the ones this module starts)."""
    hostinfo = url.split("://", 1)[1].split("/", 1)[0].split("@")[-1].split(",")[0]
    host, _, port = hostinfo.rpartition(":")
    return host or "127.0.0.1", int(port)
