"""Kafka clients configured the one way every service uses them."""

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from beli_contracts.topics import PARTITIONS
from beli_runtime.logs import get_logger

log = get_logger(__name__)


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # Idempotence implies acks=all: a send is acknowledged only once every in-sync replica has it,
    # and broker-side retries cannot duplicate or reorder a partition.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15000,
        linger_ms=5,
    )


async def ensure_topics(bootstrap: str, names: list[str], partitions: int = PARTITIONS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # One copy per broker, at most three: a dead-letter topic is as durable as the event
        # topics (RF 3 on a cluster, 1 on a development broker) without configuring each service.
        brokers = len((await admin.describe_cluster())["brokers"])
        missing = [NewTopic(name, partitions, min(3, max(1, brokers))) for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another instance created it first
    finally:
        await admin.close()


async def stop_quietly(client: object, timeout: float = 10.0) -> None:
    """aiokafka's stop() can hang while every broker is down; never let that block shutdown."""
    try:
        await asyncio.wait_for(client.stop(), timeout)  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - shutdown must go on whatever the client raises
        log.warning("kafka.stop_failed", client=type(client).__name__, error=repr(error)[:300])


async def kafka_reachable(bootstrap: str, timeout: float = 2.0) -> str:
    """For /healthz: "ok" if a bootstrap broker accepts a connection."""
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), timeout)
        except (OSError, TimeoutError, ValueError) as error:
            errors.append(type(error).__name__)
            continue
        writer.close()
        return "ok"
    return f"unavailable: {', '.join(errors)}"
