"""Fixtures of the runtime's own tests: a private database and topic per test (`space`), on the
real broker and database that the `infra` fixture starts."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from beli_runtime.kafka import ensure_topics
from beli_runtime.mongo import Database, connect
from infra.stack import Endpoints


@dataclass
class Scratch:
    client: AsyncMongoClient[dict[str, Any]]
    db: Database
    bootstrap: str
    topic: str
    group: str
    mongodb_url: str

    async def send(self, value: bytes, key: str = "k", headers: list[tuple[str, bytes]] | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(self.topic, value, key=key.encode(), headers=headers)
        finally:
            await producer.stop()


@pytest.fixture
async def space(infra: Endpoints) -> AsyncIterator[Scratch]:
    name = f"rt{uuid.uuid4().hex[:10]}"
    client = connect(infra.mongodb_url)
    # One partition, so that a later event proves the earlier ones were dealt with.
    await ensure_topics(infra.kafka_bootstrap, [f"{name}.events"], partitions=1)
    try:
        yield Scratch(client, client[f"beli_{name}"], infra.kafka_bootstrap, f"{name}.events", name, infra.mongodb_url)
    finally:
        await client.drop_database(f"beli_{name}")
        await client.close()
