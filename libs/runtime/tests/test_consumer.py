"""The consumer against the real broker and database: the inbox makes redelivery harmless,
failures are retried then dead-lettered, and an event this code cannot read (a newer version)
is dead-lettered with its reason instead of being dropped."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from beli_contracts import Envelope, EventPayload, dead_letter_topic
from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime.consumer import EventConsumer, Subscription
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox, events_of
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

MAX_ATTEMPTS = 3
Scratch = Any  # the `space` fixture's type (conftest.py)
Behaviour = Callable[[Scratch, Envelope, Session], Awaitable[None]]


def placed(order_id: str) -> Envelope:
    payload = OrderPlaced(
        order_id=order_id,
        customer=Customer(name="Maria", email="maria@example.id", phone="081234567890"),
        items=[OrderItem(product_id="prd-1", quantity=1)],
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    return Envelope.wrap(payload, key=order_id, source="orders")


async def record(space: Scratch, envelope: Envelope, session: Session) -> None:
    await space.db["effects"].insert_one({"order_id": envelope.key, "event_id": str(envelope.id)}, session=session)


@asynccontextmanager
async def consuming(space: Scratch, behaviour: Behaviour = record, *, self_deduplicating: bool = False) -> AsyncIterator[Scratch]:
    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        await space.db["calls"].insert_one({"order_id": envelope.key})  # outside the transaction: every attempt counts
        await behaviour(space, envelope, session)

    consumer = EventConsumer(
        client=space.client,
        db=space.db,
        outbox=Outbox(space.db, source="test"),
        bootstrap=space.bootstrap,
        group_id=space.group,
        subscription=Subscription(
            topics=(space.topic,),
            handlers={OrderPlaced.TYPE: handle},
            self_deduplicating=frozenset({OrderPlaced.TYPE}) if self_deduplicating else frozenset(),
        ),
        max_attempts=MAX_ATTEMPTS,
        retry_base_seconds=0.05,
    )
    await consumer.ensure_indexes()
    task = asyncio.create_task(consumer.run())
    try:
        yield space
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 30)


async def effects_of(space: Scratch, order_id: str) -> int:
    return await space.db["effects"].count_documents({"order_id": order_id})


async def calls_of(space: Scratch, order_id: str) -> int:
    return await space.db["calls"].count_documents({"order_id": order_id})


async def processed_past(space: Scratch, order_id: str = "marker") -> None:
    """Send a later event on the same (single) partition and wait for its effect: everything
    before it has been dealt with."""
    await space.send(placed(order_id).to_bytes())
    await eventually(lambda: effects_of(space, order_id), lambda n: n == 1, timeout=60, what="the marker event processed")


async def letter(space: Scratch, event_id: str) -> dict[str, Any] | None:
    return await space.db["dead_letters"].find_one({"_id": event_id})


async def test_a_redelivered_event_changes_nothing(space: Scratch) -> None:
    async with consuming(space):
        event = placed("BNTT-twice").to_bytes()
        await space.send(event)
        await space.send(event)
        await processed_past(space)
        assert await effects_of(space, "BNTT-twice") == 1
        assert await space.db["inbox"].count_documents({}) == 2
        assert await space.db["dead_letters"].count_documents({}) == 0


async def record_once(space: Scratch, envelope: Envelope, session: Session) -> None:
    """An insert keyed by the event id that leaves an existing document as it is."""
    effect = {"order_id": envelope.key, "event_id": str(envelope.id)}
    await space.db["effects"].update_one({"_id": str(envelope.id)}, {"$setOnInsert": effect}, upsert=True, session=session)


async def test_a_self_deduplicating_handler_needs_no_inbox_row(space: Scratch) -> None:
    async with consuming(space, record_once, self_deduplicating=True):
        event = placed("BNTT-upserted").to_bytes()
        await space.send(event)
        await space.send(event)
        await processed_past(space)
        assert await effects_of(space, "BNTT-upserted") == 1
        assert await calls_of(space, "BNTT-upserted") == 2  # handled twice, changed once
        assert await space.db["inbox"].count_documents({}) == 0


async def test_a_failing_handler_is_retried_until_it_succeeds(space: Scratch) -> None:
    async def flaky(space: Scratch, envelope: Envelope, session: Session) -> None:
        if await calls_of(space, envelope.key) < MAX_ATTEMPTS:
            raise RuntimeError("the first attempts fail")
        await record(space, envelope, session)

    async with consuming(space, flaky):
        await space.send(placed("BNTT-flaky").to_bytes())
        await processed_past(space)
        assert await effects_of(space, "BNTT-flaky") == 1
        assert await calls_of(space, "BNTT-flaky") == MAX_ATTEMPTS
        assert await space.db["dead_letters"].count_documents({}) == 0


async def test_a_duplicate_key_inside_the_handler_is_a_failure_not_a_duplicate_event(space: Scratch) -> None:
    async def clashing(space: Scratch, envelope: Envelope, session: Session) -> None:
        await record(space, envelope, session)
        if envelope.key == "BNTT-clash":
            await space.db["effects"].insert_one({"_id": "taken", "order_id": envelope.key}, session=session)

    async with consuming(space, clashing):
        await space.db["effects"].insert_one({"_id": "taken", "order_id": "someone else"})
        event = placed("BNTT-clash")
        await space.send(event.to_bytes())
        await processed_past(space)
        dead = await letter(space, str(event.id))
        assert dead is not None, "the handler's duplicate key was taken for an already-seen event"
        assert "DuplicateKeyError" in dead["error"] and dead["attempts"] == MAX_ATTEMPTS
        assert await calls_of(space, "BNTT-clash") == MAX_ATTEMPTS
        assert await effects_of(space, "BNTT-clash") == 0  # every attempt rolled back
        assert await space.db["inbox"].find_one({"_id": str(event.id)}) is None  # so a replay can still process it
        written = [event for row in await space.db["outbox"].find().to_list() for event in events_of(row)]
        published = [event["key"] for event in written if event["topic"] == dead_letter_topic(space.group)]
        assert published == ["BNTT-clash"]


async def test_an_unknown_version_is_dead_lettered_with_its_reason(space: Scratch) -> None:
    async with consuming(space):
        newer = placed("BNTT-v2").model_copy(update={"version": 2})
        await space.send(newer.to_bytes())
        await processed_past(space)
        dead = await letter(space, str(newer.id))
        assert dead is not None, "an event of a version this code does not know was dropped silently"
        assert "unknown version" in dead["error"] and "orders.order_placed v2" in dead["error"]
        assert await calls_of(space, "BNTT-v2") == 0


async def test_an_event_with_added_optional_fields_is_processed(space: Scratch) -> None:
    async with consuming(space):
        body = json.loads(placed("BNTT-newer").to_bytes())
        body["trace_parent"] = "00-abc-def-01"
        body["data"]["channel"] = "web"
        body["data"]["customer"]["preferred_language"] = "id"
        await space.send(json.dumps(body).encode())
        await processed_past(space)
        assert await effects_of(space, "BNTT-newer") == 1
        assert await space.db["dead_letters"].count_documents({}) == 0


async def test_an_event_of_a_type_nobody_here_handles_is_passed_over_by_its_header(space: Scratch) -> None:
    """The outbox names each event's type in a header: an event of a type this consumer has no
    handler for is passed over before its body is read (most of a topic's events are for other
    services; issue 11), so even a body that is not an envelope is neither handled nor
    dead-lettered. The same body naming a handled type is dead-lettered as garbage."""
    async with consuming(space):
        await space.send(b"not json at all", headers=[("event_type", b"orders.order_shipped")])
        await space.send(b"not json either", headers=[("event_type", OrderPlaced.TYPE.encode())])
        await processed_past(space)
        letters = await space.db["dead_letters"].find({}).to_list()
        assert len(letters) == 1 and "not a Beli NTT event envelope" in letters[0]["error"], letters
        assert await space.db["calls"].count_documents({}) == 1  # the marker's


async def test_garbage_is_dead_lettered_and_the_partition_moves_on(space: Scratch) -> None:
    async with consuming(space):
        await space.send(b"not json at all")
        await processed_past(space)
        dead = await space.db["dead_letters"].find_one({})
        assert dead is not None and dead["type"] == "unknown" and "not a Beli NTT event envelope" in dead["error"]
