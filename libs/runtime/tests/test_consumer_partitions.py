"""The consumer handles a fetch's partitions concurrently, against the real broker and database:
one partition's events stay strictly in order, different partitions overlap (bounded), the events
in hand at the same time share transactions (inbox.py), concurrent transactions' write conflicts
are retried by the transaction (never dead-lettered), and offsets are committed for exactly what
was handled."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from beli_contracts import Envelope, EventPayload
from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime.clock import utcnow
from beli_runtime.consumer import EventConsumer, Subscription
from beli_runtime.inbox import BatchScope, no_scope
from beli_runtime.kafka import ensure_topics
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

Scratch = Any  # the `space` fixture's type (conftest.py)
PARTITIONS = 4
Handler = Any


def placed(order_id: str, products: tuple[str, ...] = ("prd-1",)) -> Envelope:
    customer = Customer(name="Maria", email="maria@example.id", phone="081234567890")
    items = [OrderItem(product_id=product_id, quantity=1) for product_id in products]
    payload = OrderPlaced(order_id=order_id, customer=customer, items=items, placed_at=utcnow())
    return Envelope.wrap(payload, key=order_id, source="orders")


@asynccontextmanager
async def wide(space: Scratch, handler: Handler, **options: Any) -> AsyncIterator[str]:
    """A consumer of a fresh topic of PARTITIONS partitions (yields the topic's name)."""
    topic = f"{space.group}.wide"
    await ensure_topics(space.bootstrap, [topic], partitions=PARTITIONS)
    async with running(member(space, topic, handler, **options)):
        yield topic


def member(
    space: Scratch,
    topic: str,
    handler: Handler,
    *,
    concurrency: int,
    max_attempts: int = 3,
    writes: dict[str, Any] | None = None,
    batch_writers: int = 2,
    scope: BatchScope = no_scope,
    handlers: dict[str, Handler] | None = None,
    state_guarded: frozenset[str] = frozenset(),
) -> EventConsumer:
    """A member of the scratch group, consuming `topic` (`handler` for OrderPlaced, or `handlers`)."""
    return EventConsumer(
        client=space.client,
        db=space.db,
        outbox=Outbox(space.db, source="test"),
        bootstrap=space.bootstrap,
        group_id=space.group,
        subscription=Subscription(
            topics=(topic,),
            handlers=handlers or {OrderPlaced.TYPE: handler},
            writes=writes or {},
            scope=scope,
            state_guarded=state_guarded,
        ),
        max_attempts=max_attempts,
        retry_base_seconds=0.05,
        concurrency=concurrency,
        batch_writers=batch_writers,
    )


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[EventConsumer]:
    await consumer.ensure_indexes()
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 30)


async def send_to(space: Scratch, topic: str, events: list[tuple[int, Envelope]]) -> None:
    """Each event to the partition named with it, in the order given."""
    producer = AIOKafkaProducer(bootstrap_servers=space.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for partition, envelope in events:
            await producer.send_and_wait(topic, envelope.to_bytes(), key=envelope.key.encode(), partition=partition)
    finally:
        await producer.stop()


async def committed(space: Scratch, topic: str) -> dict[int, int | None]:
    """The group's committed offset of each partition (None: nothing committed)."""
    reader = AIOKafkaConsumer(bootstrap_servers=space.bootstrap, group_id=space.group, enable_auto_commit=False)
    await reader.start()
    try:
        return {p: await reader.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
    finally:
        await reader.stop()


async def test_each_partition_in_order_at_most_the_bound_at_once_offsets_committed(space: Scratch) -> None:
    per_partition = 8
    in_flight, most = 0, 0

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            partition, number = payload.order_id.split("-")  # type: ignore[attr-defined]
            # In the transaction: the committed list is the order the events were handled in.
            await space.db["seen"].update_one({"_id": partition}, {"$push": {"numbers": int(number)}}, upsert=True, session=session)
        finally:
            in_flight -= 1

    # One key per partition: a key's events are handled in the order sent.
    events = [(p, placed(f"p{p}-{n}").model_copy(update={"key": f"p{p}"})) for n in range(per_partition) for p in range(PARTITIONS)]
    async with wide(space, handle, concurrency=2) as topic:
        await send_to(space, topic, events)

        async def handled() -> int:
            return await space.db["inbox"].count_documents({})

        await eventually(handled, lambda n: n == len(events), timeout=120, what="every event handled")
        expected = {p: per_partition for p in range(PARTITIONS)}
        await eventually(lambda: committed(space, topic), lambda c: c == expected, timeout=60, what="offsets committed to the end")

    for p in range(PARTITIONS):
        seen = await space.db["seen"].find_one({"_id": f"p{p}"})
        assert seen is not None and seen["numbers"] == list(range(per_partition)), f"partition {p} handled out of order: {seen}"
    assert most <= 2, f"{most} events were handled at once with a bound of 2"
    assert await space.db["dead_letters"].count_documents({}) == 0


async def test_events_of_other_keys_in_one_partition_overlap_and_a_keys_events_keep_their_order(space: Scratch) -> None:
    """Three events on one partition: order a's first event waits in its handler until order b's
    event (sent after it) is in its handler too, so one slow order does not hold back another that
    hashes to its partition; a's second event (sent between them) starts only after a's first has
    finished. Offsets are committed to the end."""
    steps: list[str] = []  # "<event> started" and "<event> finished", in the order they happened
    b_started = asyncio.Event()

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        name = payload.order_id  # type: ignore[attr-defined]
        steps.append(f"{name} started")
        if name == "b":
            b_started.set()
        if name == "a-1":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(b_started.wait(), timeout=20)
        steps.append(f"{name} finished")

    await space.db.create_collection("inbox")  # as in a running service (see the test below)
    async with wide(space, handle, concurrency=8) as topic:
        await send_to(space, topic, [(0, placed("a-1").model_copy(update={"key": "a"}))])
        await eventually(
            lambda: asyncio.sleep(0, list(steps)), lambda s: s == ["a-1 started"], timeout=60, what="a's first event in its handler"
        )
        await send_to(space, topic, [(0, placed("a-2").model_copy(update={"key": "a"})), (0, placed("b"))])
        await eventually(lambda: committed(space, topic), lambda c: c[0] == 3, timeout=60, what="offsets committed to the end")

    assert steps.index("b started") < steps.index("a-1 finished"), f"b waited for a's first event: {steps}"
    assert steps.index("a-2 started") > steps.index("a-1 finished"), f"a's second event started before its first finished: {steps}"
    assert await space.db["dead_letters"].count_documents({}) == 0


async def test_partitions_overlap_and_their_write_conflicts_are_retried_not_dead_lettered(space: Scratch) -> None:
    """Both events write one shared document, then wait (in their transaction, the write not yet
    committed) until some handler runs a second time. The second event is sent once the first is
    in its handler, so it is written by the consumer's other batch writer, at the same time: its
    write conflicts with the first, uncommitted one, and its transaction runs the handler again.
    With a single attempt allowed by the consumer, only the transaction's own retry of the
    conflict keeps the event from the dead letters."""
    calls: list[str] = []
    retried = asyncio.Event()

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        calls.append(envelope.key)
        if len(calls) > 2:
            retried.set()
        await space.db["shared"].update_one({"_id": "counter"}, {"$inc": {"events": 1}}, session=session)
        try:
            await asyncio.wait_for(retried.wait(), timeout=15)
        except TimeoutError:
            pass  # handled one at a time: the assertions below say so

    await space.db["shared"].insert_one({"_id": "counter", "events": 0})
    # As in a running service, the inbox exists already: a transaction creating a collection
    # conflicts with every other one writing to it until it commits.
    await space.db.create_collection("inbox")
    async with wide(space, handle, concurrency=8, max_attempts=1) as topic:
        await send_to(space, topic, [(0, placed("first"))])
        await eventually(lambda: asyncio.sleep(0, len(calls)), lambda n: n == 1, timeout=60, what="the first event in its handler")
        await send_to(space, topic, [(1, placed("second"))])

        async def handled() -> int:
            return await space.db["inbox"].count_documents({}) + await space.db["dead_letters"].count_documents({})

        await eventually(handled, lambda n: n == 2, timeout=120, what="both events handled or dead-lettered")

    assert retried.is_set(), f"no write conflict: the two partitions' events were not written at the same time (calls: {calls})"
    assert await space.db["dead_letters"].count_documents({}) == 0, "a write conflict was dead-lettered instead of retried"
    counter = await space.db["shared"].find_one({"_id": "counter"})
    assert counter is not None and counter["events"] == 2


async def test_handlers_writing_the_same_keys_take_turns_and_the_others_overlap(space: Scratch) -> None:
    """The subscription names each order's product ids as the keys it writes. Two orders of the
    same products (the second naming them in the other order), on two partitions, write one
    shared stock document: each waits in its transaction, its write not yet committed, for the
    other to join it (up to a few seconds). The second is sent once the first is in its handler,
    so the consumer's two batch writers would write them at the same time: if batches were not
    chosen by key they would meet and their writes conflict (the transaction runs a handler
    again); chosen by key, the second starts only after the first has committed, so each handler
    runs exactly once. Two
    orders of other products, sent the same way, do meet: disjoint keys still overlap."""
    calls: list[str] = []
    in_flight: dict[str, int] = {"hot": 0, "cold": 0}
    most: dict[str, int] = {"hot": 0, "cold": 0}
    met = {"hot": asyncio.Event(), "cold": asyncio.Event()}

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        kind = "hot" if envelope.key.startswith("hot") else "cold"
        calls.append(envelope.key)
        in_flight[kind] += 1
        most[kind] = max(most[kind], in_flight[kind])
        if in_flight[kind] == 2:
            met[kind].set()
        try:
            if kind == "hot":
                await space.db["stock"].update_one({"_id": "prd-hot"}, {"$inc": {"reserved": 1}}, session=session)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(met[kind].wait(), timeout=3 if kind == "hot" else 30)
        finally:
            in_flight[kind] -= 1

    def products(envelope: Envelope, payload: OrderPlaced) -> list[str]:
        return [item.product_id for item in payload.items]

    pairs = [
        ((0, placed("hot-1", ("prd-hot", "prd-warm"))), (1, placed("hot-2", ("prd-warm", "prd-hot")))),
        ((2, placed("cold-1", ("prd-a",))), (3, placed("cold-2", ("prd-b",)))),
    ]
    await space.db["stock"].insert_one({"_id": "prd-hot", "reserved": 0})
    await space.db.create_collection("inbox")  # as in a running service (see the test above)
    async with wide(space, handle, concurrency=8, max_attempts=1, writes={OrderPlaced.TYPE: products}) as topic:

        async def handled() -> int:
            return await space.db["inbox"].count_documents({}) + await space.db["dead_letters"].count_documents({})

        for sent, (first, second) in enumerate(pairs):
            await send_to(space, topic, [first])
            await eventually(
                lambda: asyncio.sleep(0, len(calls)), lambda n, sent=sent: n > 2 * sent, timeout=60, what=f"{first[1].key} in its handler"
            )
            await send_to(space, topic, [second])
            await eventually(handled, lambda n, sent=sent: n == 2 * sent + 2, timeout=120, what="both handled or dead-lettered")

    assert most["hot"] == 1, f"two handlers of the same products ran at once (calls: {calls})"
    assert sorted(calls) == ["cold-1", "cold-2", "hot-1", "hot-2"], f"a handler ran again after a write conflict: {calls}"
    assert most["cold"] == 2, "handlers of different products did not overlap"
    stock = await space.db["stock"].find_one({"_id": "prd-hot"})
    assert stock is not None and stock["reserved"] == 2
    assert await space.db["dead_letters"].count_documents({}) == 0


async def test_a_member_joining_while_an_event_is_in_its_handler_leaves_the_group_working(space: Scratch) -> None:
    """An event is in its handler when a second member joins the group. The first member lets it
    finish before handing its partitions over, and then both go on: every later event, on every
    partition, is handled. (The partition's worker used to miss the event's end, so the first
    member never finished handing over, the group never finished rebalancing, and nothing more was
    handled: a service with two instances stood still after one of them was killed.)"""
    await ensure_topics(space.bootstrap, [topic := f"{space.group}.wide"], partitions=PARTITIONS)
    in_handler, go_on, handing_over = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        if payload.order_id == "slow":  # type: ignore[attr-defined]
            in_handler.set()
            await go_on.wait()

    first = member(space, topic, handle, concurrency=8)
    release = first.release

    async def observed_release(kafka: Any, partitions: list[TopicPartition] | None) -> None:
        if partitions is None or partitions:  # not the empty revocation of joining
            handing_over.set()
        await release(kafka, partitions)

    first.release = observed_release  # type: ignore[method-assign]
    await space.db.create_collection("inbox")  # as in a running service (see the tests above)
    async with running(first):
        await send_to(space, topic, [(0, placed("slow"))])
        await asyncio.wait_for(in_handler.wait(), 60)
        async with running(member(space, topic, handle, concurrency=8)):
            await asyncio.wait_for(handing_over.wait(), 60)  # the rebalance has reached the first member
            go_on.set()
            await send_to(space, topic, [(p, placed(f"later-{p}")) for p in range(PARTITIONS)])

            async def handled() -> int:
                return await space.db["inbox"].count_documents({})

            await eventually(handled, lambda n: n == 1 + PARTITIONS, timeout=90, what="every later event handled after the rebalance")
    assert await space.db["dead_letters"].count_documents({}) == 0
