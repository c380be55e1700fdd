"""A real Kafka broker (KRaft: broker and controller in one JVM), without Docker: one node, or
the three nodes of the cluster profile (``BELI_KAFKA_NODES=3``).

The jars come from Maven Central through infra/kafka/pom.xml (the only registry of Kafka that is
reachable everywhere this project runs) into a cache shared by all work trees, by default
``~/.cache/beli-ntt/kafka-4.1.1`` (``$BELI_CACHE_DIR/kafka-4.1.1`` when that is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import string
import subprocess
import time
from collections.abc import AsyncIterator, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .processes import (
    ManagedProcess,
    ProcessError,
    file_lock,
    load_process,
    start_process,
    tail,
    wait_port,
    wait_port_closed,
)
from .profiles import Profile

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

KAFKA_VERSION = "4.1.1"
_KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = _KAFKA_DIR / "pom.xml"
LOG4J2_CONFIG = _KAFKA_DIR / "log4j2.xml"
SERVER_PROPERTIES_TEMPLATE = _KAFKA_DIR / "server.properties.template"
# The client JIT only, and the serial collector: a local broker lives for one run of the tests or
# the benchmark, and C2 spent what it compiled for it never paid back (issue 11: in a fresh
# 2,000-order run of `make bench`, 6.8 of the broker's 15.7 CPU s went to C2's compiler thread,
# and with C1 alone the broker's CPU per paid order fell from 0.010 to 0.006 s). A broker that runs
# for weeks (the official image, in compose and Kubernetes) keeps the JVM's defaults.
JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
PROCESS_NAME = "kafka"

T = TypeVar("T")


# --- fetching -----------------------------------------------------------------------------------


def cache_root() -> Path:
    """``$BELI_CACHE_DIR``, else ``~/.cache/beli-ntt``."""
    configured = os.environ.get("BELI_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "beli-ntt"


def kafka_home(cache_dir: Path | None = None) -> Path:
    return (cache_dir or cache_root()) / f"kafka-{KAFKA_VERSION}"


def fetch_kafka(cache_dir: Path | None = None) -> Path:
    """Make sure the Kafka jars are in ``<cache>/kafka-4.1.1/libs``; return ``<cache>/kafka-4.1.1``.

    Skipped when a marker says the jars for the current pom.xml are complete. Maven writes into
    a scratch folder first, so an interrupted fetch never leaves a half-filled ``libs``.
    """
    home = kafka_home(cache_dir)
    marker = home / ".fetched"
    wanted = _pom_fingerprint()
    if _marker_matches(marker, wanted):
        return home
    with file_lock(home.parent / f".kafka-{KAFKA_VERSION}.lock"):
        if _marker_matches(marker, wanted):  # another process fetched while we waited
            return home
        mvn = _require_tool("mvn", "Maven 3 (Debian: apt-get install -y maven)")
        libs, partial = home / "libs", home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            raise ProcessError(
                f"fetching Kafka {KAFKA_VERSION} with Maven failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        marker.write_text(wanted)
    return home


def _pom_fingerprint() -> str:
    # Editing the pom (another version, another jar) must trigger a new fetch.
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _marker_matches(marker: Path, wanted: str) -> bool:
    return marker.is_file() and marker.read_text().strip() == wanted and (marker.parent / "libs").is_dir()


def _require_tool(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ProcessError(f"`{name}` not found on PATH: install {install_hint}")
    return path


# --- configuration and storage ------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One KRaft node of a profile: node 0 is the single broker of the default profiles; the
    cluster profile adds nodes 1 and 2 on ports 10 and 20 above it."""

    profile: Profile
    index: int

    @property
    def node_id(self) -> int:
        return self.index + 1

    @property
    def port(self) -> int:
        return self.profile.kafka_port + 10 * self.index

    @property
    def controller_port(self) -> int:
        return self.profile.kafka_controller_port + 10 * self.index

    @property
    def name(self) -> str:
        """Process (pid file) name: ``kafka``, then ``kafka-2``, ``kafka-3``."""
        return PROCESS_NAME if self.index == 0 else f"{PROCESS_NAME}-{self.node_id}"

    @property
    def data_dir(self) -> Path:
        return self.profile.run_dir / f"{self.name}-data"

    @property
    def log_dir(self) -> Path:
        return self.profile.log_dir if self.index == 0 else self.profile.log_dir / self.name

    @property
    def properties_path(self) -> Path:
        return self.profile.run_dir / f"{self.name}-server.properties"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def nodes(profile: Profile) -> list[Node]:
    return [Node(profile, i) for i in range(profile.kafka_nodes)]


def data_dir(profile: Profile) -> Path:
    return nodes(profile)[0].data_dir


def write_server_properties(node: Node) -> Path:
    """Fill in the template for this node (rewritten on every start, so edits to it apply)."""
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes(node.profile))
    text = string.Template(SERVER_PROPERTIES_TEMPLATE.read_text()).substitute(
        node_id=node.node_id,
        voters=voters,
        port=node.port,
        controller_port=node.controller_port,
        log_dirs=node.data_dir,
        replicas=node.profile.kafka_replicas,
        min_insync=node.profile.kafka_min_insync,
    )
    path = node.properties_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def format_storage(node: Node, home: Path) -> str:
    """Format the node's KRaft log directory on first start only; return the cluster id.

    The cluster id is kept in ``<run_dir>/kafka-cluster-id`` (one per profile, shared by its
    nodes) so that a wiped data directory is formatted again under the same id.
    """
    id_file = node.profile.run_dir / "kafka-cluster-id"
    if id_file.is_file():
        cluster_id = id_file.read_text().strip()
    else:
        cluster_id = _java_tool(node, home, "random-uuid").strip().splitlines()[-1]
        id_file.write_text(cluster_id + "\n")
    if not (node.data_dir / "meta.properties").is_file():
        # No --standalone: the quorum is given statically by controller.quorum.voters.
        _java_tool(node, home, "format", "-t", cluster_id, "-c", str(node.properties_path))
    return cluster_id


def _java_tool(node: Node, home: Path, *args: str) -> str:
    result = subprocess.run(
        [*_java_command(node, home), "kafka.tools.StorageTool", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise ProcessError(f"kafka StorageTool {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _java_command(node: Node, home: Path) -> list[str]:
    java = _require_tool("java", "Java 17+ (Debian: apt-get install -y openjdk-17-jre-headless)")
    node.log_dir.mkdir(parents=True, exist_ok=True)
    return [
        java,
        *JVM_OPTIONS,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        f"-Dkafka.logs.dir={node.log_dir}",  # read by log4j2.xml
        "-cp",
        f"{home / 'libs'}/*",  # java expands the wildcard itself
    ]


# --- the broker processes -----------------------------------------------------------------------


def _lock(profile: Profile) -> contextlib.AbstractContextManager[None]:
    return file_lock(profile.run_dir / "kafka.lock")


def node_process(node: Node) -> ManagedProcess | None:
    return load_process(node.profile.pid_dir / f"{node.name}.pid")


def kafka_process(profile: Profile) -> ManagedProcess | None:
    """The (first) broker this profile started, if it still runs."""
    return node_process(nodes(profile)[0])


def kafka_processes(profile: Profile) -> list[ManagedProcess]:
    return [p for p in map(node_process, nodes(profile)) if p is not None]


def start_kafka(profile: Profile, timeout: float = 60.0) -> ManagedProcess:
    """Start the profile's broker(s) (reusing running ones) and wait until they serve requests.

    Every node is launched before any is waited for: a quorum of three elects no leader until a
    majority of its voters is up."""
    with _lock(profile):
        started = [_launch(node) for node in nodes(profile)]
        try:
            for node, process in zip(nodes(profile), started, strict=True):
                wait_kafka_ready(node.bootstrap, timeout, process)
        except BaseException:
            for process in started:
                process.stop(timeout=10.0)
            raise
        return started[0]


def start_node(node: Node, timeout: float = 60.0) -> ManagedProcess:
    """Start one node of a running cluster again (after :func:`kill_node`)."""
    with _lock(node.profile):
        process = _launch(node)
        wait_kafka_ready(node.bootstrap, timeout, process)
        return process


def _launch(node: Node) -> ManagedProcess:
    running = node_process(node)
    if running is not None:
        return running
    for port in (node.port, node.controller_port):
        if not wait_port_closed("127.0.0.1", port, timeout=3.0):  # grace for a process just killed
            raise ProcessError(
                f"port {port} is taken by a process that profile {node.profile.name!r} did not start "
                f"(no live pid file in {node.profile.pid_dir}). Stop it, or set "
                f"KAFKA_BOOTSTRAP_SERVERS to use that broker instead."
            )
    home = fetch_kafka()
    props = write_server_properties(node)
    format_storage(node, home)
    return start_process(
        node.name,
        [*_java_command(node, home), "kafka.Kafka", str(props)],
        env=None,
        log_path=node.log_dir / f"{node.name}.out",  # JVM crashes; the broker logs to kafka-server.log
        pid_dir=node.profile.pid_dir,
        cwd=node.profile.run_dir,
    )


def stop_kafka(profile: Profile, timeout: float = 20.0) -> None:
    """Controlled shutdown (SIGTERM), SIGKILL after ``timeout`` s. No-op if it is not running."""
    with _lock(profile):
        for process in reversed(kafka_processes(profile)):
            process.stop(timeout)


def kill_kafka(profile: Profile) -> None:
    """SIGKILL every broker: a crash. The data stays; :func:`start_kafka` recovers it."""
    with _lock(profile):
        for process in kafka_processes(profile):
            process.kill()


def kill_node(node: Node) -> None:
    """SIGKILL one node of a cluster; the others go on (:func:`start_node` brings it back)."""
    with _lock(node.profile):
        process = node_process(node)
        if process is not None:
            process.kill()


def wait_kafka_ready(bootstrap: str, timeout: float = 60.0, process: ManagedProcess | None = None) -> None:
    """Wait until the port accepts connections AND an admin client can list topics.

    An open port alone is not enough: the broker accepts connections before the controller has
    elected itself, and requests then fail.
    """
    host, port = _split_bootstrap(bootstrap)
    deadline = time.monotonic() + timeout
    wait_port(host, port, timeout, process)
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive:
            break
        try:
            run_async(list_topics(bootstrap, request_timeout=min(5.0, max(1.0, deadline - time.monotonic()))))
            return
        except Exception as exc:  # noqa: BLE001 - any failure means 'not up yet'; the last one is reported
            last_error = exc
            time.sleep(0.5)
    detail = ""
    if process is not None:
        detail = (
            f"\n--- {process.log_path} ---\n{process.log_tail(20)}"
            f"\n--- {process.log_path.parent / 'kafka-server.log'} ---\n"
            f"{tail(process.log_path.parent / 'kafka-server.log', 40)}"
        )
    state = "exited" if process is not None and not process.alive else f"not ready after {timeout:.0f} s"
    raise ProcessError(f"Kafka at {bootstrap} {state} (last error: {last_error!r}){detail}")


def _split_bootstrap(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host or "127.0.0.1", int(port)


# --- admin operations (aiokafka) ----------------------------------------------------------------


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, even when called inside a running event loop
    (e.g. from an async pytest fixture), where ``asyncio.run`` is not allowed."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def list_topics(bootstrap: str, request_timeout: float = 5.0) -> set[str]:
    async with _admin(bootstrap, request_timeout) as admin:
        return set(await asyncio.wait_for(admin.list_topics(), request_timeout))


async def create_topics_async(
    bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int = 1, min_insync: int = 1
) -> list[str]:
    """Create the topics that don't exist yet; return those created. Idempotent."""
    from aiokafka.admin import NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    async with _admin(bootstrap, 30.0) as admin:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        configs = {"min.insync.replicas": str(min_insync)}
        response = await admin.create_topics([NewTopic(t, partitions, replication_factor, topic_configs=configs) for t in missing])
        created = []
        for name, code, *message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:  # created concurrently: fine
                raise for_code(code)(f"creating topic {name!r}: {message}")
        return created


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int = 1, min_insync: int = 1) -> list[str]:
    return run_async(create_topics_async(bootstrap, topics, partitions, replication_factor, min_insync))


@contextlib.asynccontextmanager
async def _admin(bootstrap: str, request_timeout: float) -> AsyncIterator[AIOKafkaAdminClient]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(request_timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), request_timeout)
        yield admin
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
