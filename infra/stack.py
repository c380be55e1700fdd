#!/usr/bin/env python3
"""The local stack: a Kafka broker and a MongoDB-protocol server, without Docker.

CLI (from the repository root):

    python infra/stack.py up     [--profile dev|test]   start what is not running, print endpoints
    python infra/stack.py status [--profile dev|test]   what runs, pids, ports, URLs
    python infra/stack.py down   [--profile dev|test]   stop everything the profile started

The test suite imports it (``from infra import stack``) and calls :func:`ensure_infra`, the
``*_kafka`` / ``*_mongo`` helpers for fault tests, and :func:`start_process` for the services.

Setting ``KAFKA_BOOTSTRAP_SERVERS`` or ``MONGODB_URL`` makes :func:`ensure_infra` use that
broker / server (e.g. the ones of docker-compose.yml) instead of starting its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: sys.path[0] is infra/ itself, where our modules would shadow top-level
    # ones; put the repository root there instead so that `infra` imports as a package.
    _here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == _here:
        sys.path[0] = str(_here.parent)
    else:
        sys.path.insert(0, str(_here.parent))

from infra import kafka_broker, mongo_server
from infra.kafka_broker import cache_root, create_topics, fetch_kafka, kafka_process, wait_kafka_ready  # noqa: F401
from infra.mongo_server import mongo_process, wait_mongo_ready
from infra.processes import (  # noqa: F401 - re-exported for the test suite
    ManagedProcess,
    ProcessError,
    load_process,
    managed_processes,
    port_open,
    start_process,
    wait_http,
    wait_port,
)
from infra.profiles import DEV, PROFILES, REPO_ROOT, SERVICE_NAMES, TEST, Profile  # noqa: F401

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
MONGO_ENV = "MONGODB_URL"


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    mongodb_url: str


class ExternalInfraError(RuntimeError):
    """A start/stop/kill was asked of a broker or server this module does not run."""


def external_kafka() -> str | None:
    """The broker named by ``KAFKA_BOOTSTRAP_SERVERS``, if set: then none is started here."""
    return os.environ.get(KAFKA_ENV) or None


def external_mongo() -> str | None:
    """The server named by ``MONGODB_URL``, if set: then none is started here."""
    return os.environ.get(MONGO_ENV) or None


# --- the whole stack ----------------------------------------------------------------------------


def ensure_infra(profile: Profile = TEST, timeout: float = 60.0) -> Endpoints:
    """Make the broker and the database of ``profile`` run (reusing live ones) and create the
    event topics; return where they are. Safe to call again and from several processes."""
    kafka = external_kafka()
    if kafka:
        wait_kafka_ready(kafka, timeout)
    else:
        kafka_broker.start_kafka(profile, timeout)
        kafka = profile.kafka_bootstrap
    mongo = external_mongo()
    if mongo:
        wait_mongo_ready(mongo, timeout)
    else:
        mongo_server.start_mongo(profile, timeout)
        mongo = profile.mongodb_url
    topics, partitions = contract_topics()
    replicas, min_insync = (1, 1) if external_kafka() else (profile.kafka_replicas, profile.kafka_min_insync)
    create_topics(kafka, topics, partitions, replication_factor=replicas, min_insync=min_insync)
    return Endpoints(kafka_bootstrap=kafka, mongodb_url=mongo)


def stop_infra(profile: Profile = TEST, timeout: float = 20.0) -> None:
    """Stop the profile's broker and database cleanly (both at once: each takes a few seconds)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        stops = [
            pool.submit(kafka_broker.stop_kafka, profile, timeout),
            pool.submit(mongo_server.stop_mongo, profile, timeout),
        ]
        for stop in stops:
            stop.result()


def stop_all(profile: Profile = TEST, timeout: float = 20.0) -> list[str]:
    """Stop every process the profile's pid files name (services first), then the infra.
    Returns the names of the processes that were running."""
    infra = [p.name for p in [*kafka_broker.kafka_processes(profile), mongo_process(profile)] if p is not None]
    apps = [p for p in managed_processes(profile.pid_dir) if p.name not in infra_names(profile)]
    for app in apps:
        app.stop(timeout)
    stop_infra(profile, timeout)
    return [p.name for p in apps] + infra


def infra_names(profile: Profile) -> set[str]:
    """Process names of the profile's broker node(s) and database server."""
    return {node.name for node in kafka_broker.nodes(profile)} | {mongo_server.PROCESS_NAME}


def contract_topics() -> tuple[tuple[str, ...], int]:
    """``ALL_TOPICS`` and ``PARTITIONS`` from the contracts package (the single source of truth).

    Works from the workspace venv (installed) and from a bare Python: then from the source tree,
    and if its package imports (pydantic) are missing, from topics.py alone, which has none.
    """
    contracts = REPO_ROOT / "libs" / "contracts"
    try:
        if importlib.util.find_spec("beli_contracts") is None:
            sys.path.append(str(contracts))
        from beli_contracts.topics import ALL_TOPICS, PARTITIONS
    except ImportError:
        spec = importlib.util.spec_from_file_location("_beli_topics", contracts / "beli_contracts" / "topics.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ALL_TOPICS, PARTITIONS = module.ALL_TOPICS, module.PARTITIONS
    return tuple(ALL_TOPICS), int(PARTITIONS)


# --- fault injection: the broker and the database one at a time ---------------------------------


def start_kafka(profile: Profile = TEST, timeout: float = 60.0) -> ManagedProcess:
    _managed_only(KAFKA_ENV)
    return kafka_broker.start_kafka(profile, timeout)


def stop_kafka(profile: Profile = TEST, timeout: float = 20.0) -> None:
    _managed_only(KAFKA_ENV)
    kafka_broker.stop_kafka(profile, timeout)


def kill_kafka(profile: Profile = TEST) -> None:
    """SIGKILL the broker (a crash); :func:`start_kafka` brings it back with its data."""
    _managed_only(KAFKA_ENV)
    kafka_broker.kill_kafka(profile)


def restart_kafka(profile: Profile = TEST, timeout: float = 60.0) -> ManagedProcess:
    """Stop the broker cleanly and start it again on the same data."""
    stop_kafka(profile)
    return start_kafka(profile, timeout)


def start_mongo(profile: Profile = TEST, timeout: float = 30.0) -> ManagedProcess:
    _managed_only(MONGO_ENV)
    return mongo_server.start_mongo(profile, timeout)


def stop_mongo(profile: Profile = TEST, timeout: float = 20.0) -> None:
    _managed_only(MONGO_ENV)
    mongo_server.stop_mongo(profile, timeout)


def kill_mongo(profile: Profile = TEST) -> None:
    """SIGKILL the database server (a crash); :func:`start_mongo` brings it back with its data."""
    _managed_only(MONGO_ENV)
    mongo_server.kill_mongo(profile)


def restart_mongo(profile: Profile = TEST, timeout: float = 30.0) -> ManagedProcess:
    """Stop the database server cleanly and start it again on the same data."""
    stop_mongo(profile)
    return start_mongo(profile, timeout)


def _managed_only(env_var: str) -> None:
    # Fault tests must not believe they stopped a broker that someone else runs.
    if os.environ.get(env_var):
        raise ExternalInfraError(
            f"{env_var} is set: that server is not run by infra/stack.py, so it cannot be started, stopped or killed from here"
        )


# --- status -------------------------------------------------------------------------------------


def status_lines(profile: Profile) -> list[str]:
    lines = [f"profile {profile.name}: run dir {profile.run_dir}"]
    kafka = external_kafka()
    if kafka:
        lines.append(f"  kafka          external  {kafka} ({KAFKA_ENV})")
    else:
        for node in kafka_broker.nodes(profile):
            detail = f"bootstrap {node.bootstrap}, controller :{node.controller_port}"
            lines.append(_line(node.name, kafka_broker.node_process(node), node.port, detail))
    mongo = external_mongo()
    if mongo:
        lines.append(f"  mongo          external  {mongo} ({MONGO_ENV})")
    else:
        lines.append(_line("mongo", mongo_process(profile), profile.mongo_port, profile.mongodb_url))
    processes = {p.name: p for p in managed_processes(profile.pid_dir) if p.name not in infra_names(profile)}
    for name, port in profile.service_ports.items():
        lines.append(_line(name, processes.pop(name, None), port, profile.service_url(name)))
    for name, process in sorted(processes.items()):
        lines.append(f"  {name:<14} running   pid {process.pid:<7} log {process.log_path}")
    lines.append(f"  logs in {profile.log_dir}; Kafka jars in {kafka_broker.kafka_home()}")
    return lines


def _line(name: str, process: ManagedProcess | None, port: int, url: str) -> str:
    listening = port_open("127.0.0.1", port)
    if process is not None:
        state = "running" if listening else "starting"
        pid = f"pid {process.pid}"
    else:
        state = "other" if listening else "stopped"  # "other": the port is served by someone else
        pid = ""
    return f"  {name:<14} {state:<9} {pid:<11} :{port:<6} {url}"


# --- CLI ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python infra/stack.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "restart-kafka", "restart-mongo"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    # aiokafka logs every refused connection while the broker boots: noise, not news.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    started = time.monotonic()
    try:
        if args.command == "up":
            endpoints = ensure_infra(profile)
            print(f"stack {profile.name} up in {time.monotonic() - started:.1f} s")
            print(f"{KAFKA_ENV}={endpoints.kafka_bootstrap}")
            print(f"{MONGO_ENV}={endpoints.mongodb_url}")
        elif args.command == "down":
            stopped = stop_all(profile)
            print(
                f"stack {profile.name} down in {time.monotonic() - started:.1f} s; stopped: {', '.join(stopped) or 'nothing was running'}"
            )
        elif args.command == "status":
            print("\n".join(status_lines(profile)))
        elif args.command == "restart-kafka":
            print(f"kafka restarted, pid {restart_kafka(profile).pid}")
        else:
            print(f"mongo restarted, pid {restart_mongo(profile).pid}")
    except (ProcessError, ExternalInfraError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
