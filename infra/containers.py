"""Which infrastructure the test suite runs on, and the container path for machines with Docker.

``BELI_TEST_INFRA`` chooses:

- ``processes`` (the default): Kafka from the Maven Central jars and SecantusDB, as local
  processes (infra/stack.py). The only path on machines without a Docker engine.
- ``containers``: Apache Kafka and a real MongoDB replica set (``mongo:8.0``, one member with
  ``--replSet``) started with testcontainers; fails if no Docker engine answers.
- ``auto``: containers when a Docker engine answers, processes otherwise.

The fault tests that crash or restart the broker or the database need the process path (they
signal the processes themselves); on containers they are skipped, saying so.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

INFRA_ENV = "BELI_TEST_INFRA"
CHOICES = ("processes", "containers", "auto")
KAFKA_IMAGE = "apache/kafka:4.1.1"
MONGO_IMAGE = "mongo:8.0"


class InfraChoiceError(RuntimeError):
    pass


def docker_available() -> bool:
    """A Docker engine answers a ping (DOCKER_HOST or the default socket)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "not available"
        return False


def choose_backend(setting: str | None, docker_check: Callable[[], bool] = docker_available) -> str:
    """``processes`` or ``containers`` for a ``BELI_TEST_INFRA`` value (unset: processes)."""
    wanted = (setting or "processes").strip().lower()
    if wanted not in CHOICES:
        raise InfraChoiceError(f"{INFRA_ENV}={setting!r}: expected one of {', '.join(CHOICES)}")
    if wanted == "processes":
        return "processes"
    if docker_check():
        return "containers"
    if wanted == "auto":
        return "processes"
    raise InfraChoiceError(f"{INFRA_ENV}=containers but no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_containers() -> Iterator[tuple[str, str]]:
    """Start Kafka (KRaft, one node) and a one-member MongoDB replica set; yield (bootstrap, url).

    Each listens inside its container on the same port it is published on, so the address the
    broker advertises and the replica set member's name work from the host as they are."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    kafka_port, mongo_port = _free_port(), _free_port()
    kafka: Any = DockerContainer(KAFKA_IMAGE).with_bind_ports(kafka_port, kafka_port).with_envs(**kafka_environment(kafka_port))
    mongo: Any = (
        DockerContainer(MONGO_IMAGE)
        .with_bind_ports(mongo_port, mongo_port)
        .with_command(f"mongod --replSet rs0 --bind_ip_all --port {mongo_port}")
    )
    with kafka, mongo:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        wait_for_logs(mongo, "Waiting for connections", timeout=120)
        initiate = f"rs.initiate({{_id: 'rs0', members: [{{_id: 0, host: 'localhost:{mongo_port}'}}]}})"
        mongo.exec(["mongosh", "--quiet", "--port", str(mongo_port), "--eval", initiate])
        yield f"localhost:{kafka_port}", f"mongodb://localhost:{mongo_port}/?replicaSet=rs0"


def kafka_environment(port: int) -> dict[str, str]:
    """Single-node KRaft settings for the official image, advertising the published port."""
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "6",
    }
