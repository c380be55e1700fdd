"""What service-layer tests share: the settings that give a service a database of its own and no
Kafka, and the events a service would publish (read from its outbox, since nothing relays them)."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx
from fastapi import FastAPI

from beli_contracts.envelope import Envelope, EventPayload, decode
from beli_runtime.consumer import Subscription
from beli_runtime.inbox import Inbox
from beli_runtime.mongo import Database
from beli_runtime.outbox import events_of, unsent_rows
from beli_runtime.service import ServiceRuntime
from orders.store import ORDERS

# A port nothing listens on: a service built for a service-layer test has no Kafka.
NO_KAFKA = "127.0.0.1:1"


@dataclass(frozen=True)
class ServiceDatabase:
    mongodb_url: str
    mongodb_database: str
    kafka_bootstrap_servers: str = NO_KAFKA

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for the service's settings class."""
        return asdict(self)


# The collections whose documents embed their own outbox row: orders, until its checkout's event is
# sent (orders/checkouts.py). Another service's database has no such collection.
EMBEDDING = (ORDERS,)


async def outbox_events(db: Database, key: str) -> list[Envelope]:
    """The events written for one aggregate (order, rule, ...), oldest first."""
    rows = await unsent_rows(db, EMBEDDING)
    return [decode(bytes(event["value"])) for row in rows for event in events_of(row) if event["key"] == key]


def consumer_inbox(runtime: ServiceRuntime, subscription: Subscription, writers: int = 1) -> Inbox:
    """The inbox a service's consumer writes its events through, wired as the consumer wires it
    (the subscription's keys, scope and state-guarded types): with one writer, events handed over
    at once are written the first alone and the rest as one batch."""
    return Inbox(
        runtime.client,
        runtime.db,
        runtime.outbox,
        subscription.writes,
        writers=writers,
        scope=subscription.scope,
        state_guarded=subscription.state_guarded,
    )


def order_event(payload: EventPayload) -> Envelope:
    """An event about an order, keyed by it as its producer keys it."""
    return Envelope.wrap(payload, key=payload.order_id, source="test")  # type: ignore[attr-defined]


async def deliver(runtime: ServiceRuntime, envelopes: Sequence[Envelope], subscription: Subscription | None = None) -> None:
    """Hand the events over at once, as the consumer's partitions do, through the inbox the
    service's one consumer wires (or `subscription`'s, for a service built without its consumer):
    one writer takes the first alone and the rest as one batch."""
    if subscription is None:
        [consumer] = runtime.consumers
        subscription = consumer.subscription
    inbox = consumer_inbox(runtime, subscription)
    await asyncio.gather(*(inbox.apply(e, e.payload(), subscription.handlers[e.type]) for e in envelopes))


class BuiltService(Protocol):
    """What every service's composition root builds (`<service>.main.build_service`)."""

    runtime: ServiceRuntime

    async def prepare(self) -> None: ...


@asynccontextmanager
async def ready(service: BuiltService) -> AsyncIterator[None]:
    """The service's indexes created (as its start-up does), its database client closed after."""
    await service.runtime.create_indexes(service.prepare, attempts=3)
    try:
        yield
    finally:
        await service.runtime.client.close()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app built by `build_app`, without its lifespan (no consumers, no
    jobs, no relay: nothing reaches Kafka)."""
    service: BuiltService = app.state.service
    async with ready(service), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as client:
        yield client
