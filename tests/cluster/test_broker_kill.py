"""Three Kafka brokers (KRaft, every topic RF 3 and min.insync.replicas 2): the checkout journey
goes on while one broker is killed with SIGKILL and restarted, and every order acknowledged by
`POST /orders` reaches its final state with nothing lost or doubled: the set of orders put in is
the set of orders that came out, each with one levy entry per paid line, stock exact.

As in Kafka's own system tests, the check compares the input set with the output set: here the
orders placed and their `orders.order_placed` events on the topic, each exactly once."""

import asyncio
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from beli_contracts import Envelope
from beli_contracts.topics import ALL_TOPICS
from infra import kafka_broker
from tests.faults import Stream
from tests.support import Api, System

pytestmark = pytest.mark.timeout(900)


async def topic_replication(bootstrap: str) -> dict[str, set[int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(ALL_TOPICS))
    finally:
        await admin.close()
    return {topic["topic"]: {len(p["replicas"]) for p in topic["partitions"]} for topic in described}


async def whole_topic(bootstrap: str, topic: str) -> list[Envelope]:
    """Every event on the topic up to its end offsets at the time of the call."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events: list[Envelope] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events += [Envelope.model_validate_json(r.value) for r in records if r.value and r.value.startswith(b"{")]
        return events
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def test_one_broker_killed_and_restarted_mid_checkout(api: Api, system: System) -> None:
    profile = system.profile
    assert profile.kafka_nodes == 3 and system.endpoints.kafka_bootstrap.count(",") == 2
    replication = await topic_replication(system.endpoints.kafka_bootstrap)
    assert all(replicas == {3} for replicas in replication.values()), replication

    stream = await Stream.stock_up(api, count=3, stock=60)
    running = asyncio.create_task(stream.run(api, buyers=24, seed=33))
    await asyncio.sleep(1.0)
    victim = kafka_broker.nodes(profile)[1]  # not the first bootstrap address: clients must fail over
    await asyncio.to_thread(kafka_broker.kill_node, victim)
    await asyncio.sleep(5.0)  # orders keep being placed and paid on two brokers meanwhile
    await asyncio.to_thread(kafka_broker.start_node, victim)
    await running
    figures = await stream.converged(api, "cluster: one of three brokers killed", timeout=240)
    assert figures["orders"] == 24 and figures["paid"] > 0

    # Every order is final, so every order_placed was written: read the topic up to its end.
    events = await whole_topic(system.endpoints.kafka_bootstrap, "orders.events")
    counts = Counter(e.key for e in events if e.type == "orders.order_placed" and e.key in stream.orders)
    assert set(counts) == set(stream.orders), "an acknowledged order never reached the topic"
    assert max(counts.values()) == 1, f"orders placed twice on the topic: {[k for k, n in counts.items() if n > 1]}"
