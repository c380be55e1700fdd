"""The events a consumer has in hand at the same time are written in shared transactions
(inbox.py), against the real broker and database: one inbox insert for the lot, each event still
handled exactly once, a redelivered event in a batch skipped, a failing handler costing only
its own event (the others are written again one by one and go through), and state-guarded events
handled in the same transactions without inbox rows."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from beli_contracts import Envelope, EventPayload
from beli_contracts.orders import OrderCancelled, OrderPlaced
from beli_contracts.values import Customer
from beli_runtime.kafka import ensure_topics
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox, events_of
from libs.runtime.tests.test_consumer_partitions import PARTITIONS, committed, placed, send_to, wide
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

Scratch = Any  # the `space` fixture's type (conftest.py)


async def inserts(space: Scratch, collection: str) -> int:
    """Insert commands the database received for one of this scratch database's collections (`top`)."""
    top = await space.client.admin.command("top")
    return int(top["totals"].get(f"{space.db.name}.{collection}", {}).get("insert", {}).get("count", 0))


async def fetched_together(space: Scratch, keys: list[str]) -> str:
    """Send one event per partition before the consumer starts, so that its first fetch hands
    them all over at once (returns the topic, as `wide` names it)."""
    topic = f"{space.group}.wide"
    await ensure_topics(space.bootstrap, [topic], partitions=PARTITIONS)
    await send_to(space, topic, [(number % PARTITIONS, placed(key)) for number, key in enumerate(keys)])
    return topic


async def effects(space: Scratch) -> list[str]:
    return sorted(row["_id"] for row in await space.db["effects"].find().to_list())


async def record(space: Scratch, envelope: Envelope, session: Session) -> None:
    await space.db["effects"].insert_one({"_id": envelope.key}, session=session)


async def test_events_handed_over_together_share_their_inserts_and_are_each_handled_once(space: Scratch) -> None:
    """Each handler records its effect and adds an event to the outbox (as a service's would): the
    events fetched together cost fewer inbox and outbox inserts than there are events."""
    keys = ["ord-1", "ord-2", "ord-3", "ord-4"]
    for collection in ("inbox", "outbox"):
        await space.db.create_collection(collection)  # as in a running service
    await fetched_together(space, keys)
    before = {collection: await inserts(space, collection) for collection in ("inbox", "outbox")}
    outbox = Outbox(space.db, source="test")

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        await record(space, envelope, session)
        await outbox.add(session, payload, key=envelope.key)  # e.g. passed on

    async with wide(space, handle, concurrency=8, batch_writers=1):
        await eventually(lambda: effects(space), lambda done: done == keys, timeout=120, what="every event handled")

    assert await space.db["inbox"].count_documents({}) == len(keys)
    added = sorted(event["key"] for row in await space.db["outbox"].find().to_list() for event in events_of(row))
    assert added == keys, f"each handler's event in the outbox once: {added}"
    for collection in ("inbox", "outbox"):
        count = await inserts(space, collection) - before[collection]
        assert count < len(keys), f"{count} {collection} inserts for {len(keys)} events fetched together: no batch shared a transaction"


async def test_a_scope_around_the_handlers_of_a_transaction_reads_and_writes_for_them_all(space: Scratch) -> None:
    """The subscription's scope sees the transaction's events before their handlers run (as a
    read of all their documents would) and writes what they leave it after them, in the same
    transaction: fewer inserts than events fetched together, each event's effect there once."""
    keys = ["ord-1", "ord-2", "ord-3", "ord-4"]
    await space.db.create_collection("effects")
    await fetched_together(space, keys)
    before = await inserts(space, "effects")
    announced: dict[Session, set[str]] = {}
    pending: dict[Session, list[str]] = {}

    @asynccontextmanager
    async def scope(session: Session, payloads: Sequence[Any]) -> AsyncIterator[None]:
        announced[session] = {payload.order_id for payload in payloads}
        pending[session] = []
        yield
        await space.db["effects"].insert_many([{"_id": key} for key in pending.pop(session)], session=session)

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        assert envelope.key in announced[session], "a handler ran for an event its scope was not given"
        pending[session].append(envelope.key)

    async with wide(space, handle, concurrency=8, batch_writers=1, scope=scope):
        await eventually(lambda: effects(space), lambda done: done == keys, timeout=120, what="every event handled")

    count = await inserts(space, "effects") - before
    assert count < len(keys), f"{count} inserts of the scope for {len(keys)} events fetched together"
    assert await space.db["dead_letters"].count_documents({}) == 0


async def test_a_redelivered_event_in_a_batch_is_skipped_and_the_others_are_handled(space: Scratch) -> None:
    keys = ["ord-1", "ord-2", "ord-3", "ord-4"]
    topic = await fetched_together(space, keys)
    seen = placed("ord-seen")
    await space.db["inbox"].insert_one({"_id": str(seen.id), "type": seen.type})  # handled before a crash
    await send_to(space, topic, [(0, seen)])
    calls: list[str] = []

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        calls.append(envelope.key)
        await record(space, envelope, session)

    async with wide(space, handle, concurrency=8, batch_writers=1):
        await eventually(lambda: effects(space), lambda done: done == keys, timeout=120, what="the new events handled")
        # The redelivered event is on partition 0 behind ord-1: committed offsets past it prove it was processed.
        await eventually(lambda: space.db["inbox"].count_documents({}), lambda n: n == len(keys) + 1, timeout=60, what="inbox rows")

    assert "ord-seen" not in calls, "a redelivered event was handled again"
    assert await space.db["dead_letters"].count_documents({}) == 0


async def test_a_failing_handler_in_a_batch_costs_only_its_own_event(space: Scratch) -> None:
    keys = ["ord-1", "ord-broken", "ord-3", "ord-4"]
    await fetched_together(space, keys)

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        await record(space, envelope, session)
        if envelope.key == "ord-broken":
            raise ValueError("a product that no longer exists")

    async with wide(space, handle, concurrency=8, max_attempts=2, batch_writers=1):
        await eventually(lambda: space.db["dead_letters"].count_documents({}), lambda n: n == 1, timeout=120, what="the dead letter")
        await eventually(lambda: effects(space), lambda done: done == ["ord-1", "ord-3", "ord-4"], timeout=60, what="the others handled")

    letter = await space.db["dead_letters"].find_one({})
    assert letter is not None and "a product that no longer exists" in letter["error"]
    assert await space.db["inbox"].count_documents({}) == 3, "the failed event's inbox row (or a rolled-back batch's) was kept"


def cancelled(order_id: str) -> Envelope:
    customer = Customer(name="Maria", email="maria@example.id", phone="081234567890")
    return Envelope.wrap(OrderCancelled(order_id=order_id, customer=customer, reason="payment_expired"), key=order_id, source="orders")


def guarded_by_state(space: Scratch, outbox: Outbox, calls: list[str]) -> Any:
    """A handler idempotent by the state it checks, as orders' are: it moves an order once (and
    passes an event on), and finds the order moved on any later copy of the event."""

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        calls.append(envelope.key)
        if await space.db["effects"].find_one({"_id": envelope.key}, session=session) is not None:
            return
        await record(space, envelope, session)
        await outbox.add(session, payload, key=envelope.key)

    return handle


async def all_committed(space: Scratch, topic: str, counts: dict[int, int]) -> None:
    await eventually(lambda: committed(space, topic), lambda offsets: offsets == counts, timeout=120, what="every event processed")


async def test_state_guarded_events_are_handled_together_without_inbox_rows(space: Scratch) -> None:
    """Each event arrives twice (a redelivery): handled in shared transactions, each order moved
    and passed on once, and not one inbox insert sent."""
    keys = ["ord-1", "ord-2", "ord-3", "ord-4"]
    for collection in ("inbox", "outbox"):
        await space.db.create_collection(collection)
    topic = f"{space.group}.wide"
    await ensure_topics(space.bootstrap, [topic], partitions=PARTITIONS)
    events = [(number % PARTITIONS, placed(key)) for number, key in enumerate(keys)]
    await send_to(space, topic, events + events)
    before = {collection: await inserts(space, collection) for collection in ("inbox", "outbox")}
    outbox, calls = Outbox(space.db, source="test"), []
    handle = guarded_by_state(space, outbox, calls)

    async with wide(space, handle, concurrency=8, batch_writers=1, state_guarded=frozenset({OrderPlaced.TYPE})):
        await all_committed(space, topic, {partition: 2 for partition in range(PARTITIONS)})

    assert sorted(calls) == sorted(keys + keys), "each copy reaches its handler"
    assert await effects(space) == keys
    added = sorted(event["key"] for row in await space.db["outbox"].find().to_list() for event in events_of(row))
    assert added == keys, f"an event passed on twice: {added}"
    assert await inserts(space, "inbox") == before["inbox"], "a batch of state-guarded events sent an inbox insert"
    assert await space.db["inbox"].count_documents({}) == 0
    assert await inserts(space, "outbox") - before["outbox"] < len(keys), "no batch shared a transaction"


async def test_a_batch_mixing_guarded_events_with_a_redelivered_inboxed_one(space: Scratch) -> None:
    """The redelivered event's inbox row aborts its batch, written again one event at a time: it
    is skipped there, the state-guarded events (no rows) and the new inboxed one go through once."""
    topic = f"{space.group}.wide"
    await ensure_topics(space.bootstrap, [topic], partitions=PARTITIONS)
    seen, fresh = cancelled("ord-seen"), cancelled("ord-4")
    await space.db["inbox"].insert_one({"_id": str(seen.id), "type": seen.type})  # handled before a crash
    again = placed("ord-1")
    await send_to(space, topic, [(0, again), (1, placed("ord-2")), (2, placed("ord-3")), (3, fresh), (1, seen), (0, again)])
    outbox, calls = Outbox(space.db, source="test"), []

    async def on_cancelled(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        calls.append(envelope.key)
        await record(space, envelope, session)

    handlers = {OrderPlaced.TYPE: guarded_by_state(space, outbox, calls), OrderCancelled.TYPE: on_cancelled}
    guarded = frozenset({OrderPlaced.TYPE})
    async with wide(space, None, concurrency=8, batch_writers=1, handlers=handlers, state_guarded=guarded):
        await all_committed(space, topic, {0: 2, 1: 2, 2: 1, 3: 1})

    assert "ord-seen" not in calls, "a redelivered inboxed event was handled again"
    assert await effects(space) == ["ord-1", "ord-2", "ord-3", "ord-4"]
    assert sorted(event["key"] for row in await space.db["outbox"].find().to_list() for event in events_of(row)) == [
        "ord-1",
        "ord-2",
        "ord-3",
    ]
    rows = sorted(row["_id"] for row in await space.db["inbox"].find().to_list())
    assert rows == sorted([str(seen.id), str(fresh.id)]), "only the inboxed types have rows"
    assert await space.db["dead_letters"].count_documents({}) == 0
