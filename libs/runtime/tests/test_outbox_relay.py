"""The outbox relay against the real broker and database: the events of transactions that commit
close together leave with one find and one delete, a wake-up that arrives while the relay works is
never lost (no event waits for the next poll), each key's events leave in the order written,
also when the producer fails half-way through a batch and is recreated, and while events keep
coming the rows sent within a second share one delete (issue 11). Sent rows are deleted, not kept;
a row embedded in a document leaves in its place among the others, and is unset once sent."""

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from bson import ObjectId
from pymongo import AsyncMongoClient, monitoring

from beli_contracts import Envelope, EventPayload
from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime import outbox, service
from beli_runtime.clock import utcnow
from beli_runtime.consumer import Subscription
from beli_runtime.jobs import BackgroundJob
from beli_runtime.kafka import ensure_topics
from beli_runtime.kafka import new_producer as real_producer
from beli_runtime.mongo import Session, in_transaction
from beli_runtime.service import ServiceRuntime
from beli_runtime.settings import ServiceSettings
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

Scratch = Any  # the `space` fixture's type (conftest.py)
NEVER = 600.0  # a poll interval no test waits for: only a wake-up can make the relay look


class OutboxCommands(monitoring.CommandListener):
    """The relay's finds and deletes of the outbox (the writers' inserts are not counted)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "delete") and event.command.get(event.command_name) == "outbox":
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def relaying(
    space: Scratch,
    monkeypatch: pytest.MonkeyPatch,
    subscription: Subscription | None = None,
    embedded: tuple[str, ...] = (),
    **settings: Any,
) -> AsyncIterator[tuple[ServiceRuntime, OutboxCommands]]:
    """A running service runtime (its relay, and a consumer if given), on a database client whose
    outbox commands are counted from the relay's first look on."""
    commands = OutboxCommands()
    monkeypatch.setattr(service, "connect", lambda url: AsyncMongoClient(url, tz_aware=True, event_listeners=[commands]))
    options = ServiceSettings(
        service_name=space.group,
        mongodb_url=space.mongodb_url,
        mongodb_database=space.db.name,
        kafka_bootstrap_servers=space.bootstrap,
        consumer_retry_base_seconds=0.05,
        **settings,
    )
    runtime = ServiceRuntime(options, embedded_outboxes=embedded)
    if subscription is not None:
        runtime.subscribe(subscription)

    async def nothing() -> None:
        pass

    await runtime._start(nothing)
    try:
        await eventually(lambda: asyncio.sleep(0, list(commands.names)), lambda names: "find" in names, what="the relay's first look")
        commands.names.clear()
        yield runtime, commands
    finally:
        await runtime._stop()


async def write(runtime: ServiceRuntime, topic: str, key: str, value: str, *, event: bool = True) -> None:
    """A state change through the runtime, with an event or without."""

    async def work(session: Session) -> None:
        await runtime.db["state"].insert_one({"key": key}, session=session)
        if event:
            await runtime.outbox.add_raw(session, topic, key, value.encode())

    await runtime.write(work)


def placed(order_id: str) -> Envelope:
    customer = Customer(name="Maria", email="maria@example.id", phone="081234567890")
    payload = OrderPlaced(order_id=order_id, customer=customer, items=[OrderItem(product_id="prd-1", quantity=1)], placed_at=utcnow())
    return Envelope.wrap(payload, key=order_id, source="orders")


async def unpublished(space: Scratch) -> int:
    """Rows still in the outbox (a sent row is deleted)."""
    return await space.db["outbox"].count_documents({})


async def received(space: Scratch, expected: int) -> list[tuple[str, str]]:
    """(key, value) of the topic's messages in their order, once `expected` different ones came."""
    consumer = AIOKafkaConsumer(space.topic, bootstrap_servers=space.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    messages: list[tuple[str, str]] = []
    try:
        async with asyncio.timeout(60):
            while len(set(messages)) < expected:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    messages += [(m.key.decode(), m.value.decode()) for m in batch if m.key and m.value]
    finally:
        await consumer.stop()
    return messages


async def test_events_of_concurrent_transactions_leave_with_one_find_and_one_delete(
    space: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = 20
    # A window wide enough for twenty transactions to commit on a busy shared machine.
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER, relay_gather_seconds=0.5) as (
        runtime,
        commands,
    ):
        await asyncio.gather(*(write(runtime, space.topic, f"ord-{i % 4}", f"event-{i}") for i in range(transactions)))
        await eventually(lambda: unpublished(space), lambda n: n == 0, what="every event published and its row deleted", timeout=30)
        looks = list(commands.names)
    assert len(await received(space, transactions)) >= transactions
    # Without the gather window and the re-look only after a full batch: a find per wake-up that
    # found rows, a delete each, and a find that finds nothing after each of them.
    assert looks.count("find") <= 2 and looks.count("delete") <= 2, looks


async def test_a_wake_up_during_a_step_is_kept_for_another_step(space: Scratch) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    steps = 0

    async def step() -> bool:
        nonlocal steps
        steps += 1
        if steps == 2:
            entered.set()
            await release.wait()
        return False

    job = BackgroundJob("waketest", step, interval=NEVER, db=space.db, lease_seconds=10.0, gather=0.05)
    task = asyncio.create_task(job.run())
    try:
        await eventually(lambda: asyncio.sleep(0, steps), lambda n: n == 1, what="the first step")
        job.wake()
        await asyncio.wait_for(entered.wait(), 10)
        job.wake()  # new work, announced while the step that was woken before runs
        release.set()
        await eventually(lambda: asyncio.sleep(0, steps), lambda n: n == 3, timeout=10, what="a step for the wake-up during the step")
    finally:
        await job.stop()
        await asyncio.wait_for(task, 10)


async def test_events_written_one_by_one_never_wait_for_the_poll(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, _):

        async def writer(n: int) -> None:
            for i in range(6):
                await asyncio.sleep(random.uniform(0, 0.08))
                await write(runtime, space.topic, f"ord-{n}", f"event-{n}-{i}")

        await asyncio.gather(*(writer(n) for n in range(5)))
        # Only wake-ups can publish them: a lost one would leave an event for the next poll.
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="every event published")


class FailingProducer:
    """A producer that fails after `sends` messages, as a wedged one does mid-batch."""

    def __init__(self, real: AIOKafkaProducer, sends: int) -> None:
        self._real, self._left = real, sends

    async def start(self) -> None:
        await self._real.start()

    async def stop(self) -> None:
        await self._real.stop()

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self._left -= 1
        if self._left < 0:
            raise KafkaConnectionError("the broker went away")
        return await self._real.send(*args, **kwargs)


async def test_each_keys_events_leave_in_the_order_written_through_a_failing_producer(
    space: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []

    def new_producer(bootstrap: str, client_id: str) -> Any:
        producer = real_producer(bootstrap, client_id)
        made.append(producer)
        return FailingProducer(producer, sends=7) if len(made) == 1 else producer

    monkeypatch.setattr(outbox, "new_producer", new_producer)
    keys, per_key = 4, 12
    async with relaying(space, monkeypatch, relay_poll_seconds=0.2) as (runtime, _):

        async def writer(key: str) -> None:
            for i in range(per_key):
                await write(runtime, space.topic, key, f"{key}/{i:02d}")

        await asyncio.gather(*(writer(f"ord-{k}") for k in range(keys)))
        await eventually(lambda: unpublished(space), lambda n: n == 0, what="every event published")
    messages = await received(space, keys * per_key)
    assert len(made) >= 2, "the failed producer was recreated"
    for k in range(keys):
        key = f"ord-{k}"
        firsts = list(dict.fromkeys(value for each, value in messages if each == key))  # re-sends repeat; first arrivals count
        assert firsts == [f"{key}/{i:02d}" for i in range(per_key)]


async def test_the_relay_looks_only_after_commits_that_added_events(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    out = f"{space.group}.out"
    await ensure_topics(space.bootstrap, [out], partitions=1)

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        if envelope.key == "BNTT-loud":  # the others change state without an event, as most handlers do
            await runtime.outbox.add_raw(session, out, envelope.key, b"answer")

    subscription = Subscription(topics=(space.topic,), handlers={OrderPlaced.TYPE: handle})
    monkeypatch.setattr(outbox, "LOOK_EVERY_SECONDS", NEVER)
    async with relaying(space, monkeypatch, subscription, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, commands):
        for n in range(3):
            await write(runtime, space.topic, "", "", event=False)
            await space.send(placed(f"BNTT-quiet-{n}").to_bytes())
        await space.send(placed("BNTT-loud").to_bytes())  # one partition: handled after the quiet ones
        await eventually(lambda: asyncio.sleep(0, list(commands.names)), lambda names: "delete" in names, what="the loud event sent")
        looks = list(commands.names)
    assert looks == ["delete"], looks  # the loud event's row was handed to the relay: no look at all


async def test_a_lone_event_in_a_quiet_system_does_not_wait_for_the_gather_window(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    gather = 5.0
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER, relay_gather_seconds=gather) as (
        runtime,
        _,
    ):
        await write(runtime, space.topic, "ord-1", "alone")
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=gather / 2, what="the lone event published")


async def test_sent_rows_are_deleted_together_on_a_timer_and_never_sent_twice(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay's steps leave the rows they sent in the outbox and its looks skip them; one delete
    takes them all once DELETE_AFTER_ROWS wait, and the rest DELETE_AFTER_SECONDS after they were
    sent, with no further step (a delete per step was one database operation per paid order: issue
    11)."""
    monkeypatch.setattr(outbox, "DELETE_AFTER_ROWS", 10)
    monkeypatch.setattr(outbox, "DELETE_AFTER_SECONDS", 5.0)
    commands = OutboxCommands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(space.mongodb_url, tz_aware=True, event_listeners=[commands])
    relay = outbox.OutboxRelay(client[space.db.name], space.bootstrap, client_id=f"{space.group}-relay")
    rows = outbox.Outbox(space.db, source="test")

    async def four_more(batch: int) -> None:
        async with space.client.start_session() as session:
            for i in range(4):
                await rows.add_raw(session, space.topic, f"ord-{i}", f"event-{batch}-{i}".encode())
        await relay.step()

    try:
        for batch in range(3):
            await four_more(batch)
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=4, what="the twelve rows deleted once ten waited")
        assert commands.names == ["find", "find", "find", "delete"], "not one delete for the rows of three steps"
        await four_more(3)
        assert await unpublished(space) == 4, "the rows of one step were deleted at once"
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="the last rows deleted on the timer")
        assert commands.names[-2:] == ["find", "delete"]
    finally:
        await relay.close()
        await client.close()
    messages = await received(space, 16)
    assert len(messages) == 16, f"a look sent rows it had sent before: {sorted(messages)}"


async def test_events_this_process_commits_leave_without_a_look_and_others_are_still_found(
    space: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows a commit of this process added are handed to the relay, which sends them in the order
    written without looking for them (a find per hop was one of every saga step's round trips: issue
    11). A row it does not hold (written by another instance) is found by the look the relay still
    makes at least every LOOK_EVERY_SECONDS while rows are handed to it, and leaves before the newer
    ones of its key."""
    monkeypatch.setattr(outbox, "LOOK_EVERY_SECONDS", NEVER)
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, commands):
        for i in range(8):
            await write(runtime, space.topic, f"ord-{i % 2}", f"ours-{i}")
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="our events published")
        assert "find" not in commands.names, commands.names

        monkeypatch.setattr(outbox, "LOOK_EVERY_SECONDS", 0.0)  # the next step with rows handed over looks
        another_instance = outbox.Outbox(space.db, source="test")
        async with space.client.start_session() as session:
            await another_instance.add_raw(session, space.topic, "ord-0", b"theirs")
        await write(runtime, space.topic, "ord-0", "ours-after-theirs")
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="their event published too")
        assert "find" in commands.names
    messages = await received(space, 10)
    ord_0 = list(dict.fromkeys(value for key, value in messages if key == "ord-0"))
    assert ord_0 == ["ours-0", "ours-2", "ours-4", "ours-6", "theirs", "ours-after-theirs"]


class SlowDeletes:
    """The outbox collection, whose deletes wait until the test lets them go (as they waited for
    the outbox's writers under a payday rush)."""

    def __init__(self, rows: Any) -> None:
        self._rows = rows
        self.go = asyncio.Event()
        self.started = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rows, name)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        self.started += 1
        await self.go.wait()
        return await self._rows.delete_many(*args, **kwargs)


async def test_a_slow_delete_of_sent_rows_holds_no_later_event(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay deletes the rows it sent beside its steps: while the delete of the first event's row
    waits, the next event still leaves at once, and both rows are deleted once the database answers."""
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, _):
        slow = SlowDeletes(runtime._relay._rows)
        runtime._relay._rows = slow  # type: ignore[assignment]
        await write(runtime, space.topic, "ord-1", "first")
        await eventually(lambda: asyncio.sleep(0, slow.started), lambda started: started == 1, what="the first row's delete")
        await write(runtime, space.topic, "ord-1", "second")
        assert [value for _, value in await received(space, 2)] == ["first", "second"]
        assert await unpublished(space) == 2  # the delete still waits
        slow.go.set()
        await eventually(lambda: unpublished(space), lambda rows: rows == 0, timeout=15, what="both rows deleted")


async def test_start_up_deletes_the_rows_earlier_versions_marked_sent_and_their_expiry_index(space: Scratch) -> None:
    """Versions before 2026-12-06 marked sent rows and let a TTL index expire them. Start-up
    deletes such rows (they were sent) and drops that index, which cost every row's insert and
    delete an index write; a row still to send stays."""
    rows = space.db["outbox"]
    await rows.create_index("published_at", name="published_ttl", expireAfterSeconds=7 * 24 * 3600)
    await rows.insert_many(
        [
            {"topic": space.topic, "key": "ord-1", "value": b"sent", "created_at": utcnow(), "published_at": utcnow()},
            {"topic": space.topic, "key": "ord-2", "value": b"to send", "created_at": utcnow(), "published_at": None},
        ]
    )

    await outbox.Outbox(space.db, source="test").ensure_indexes()

    assert [row["key"] for row in await rows.find().to_list()] == ["ord-2"]
    assert "published_ttl" not in await rows.index_information()


async def test_the_events_of_one_write_are_one_row_and_rows_of_earlier_versions_are_still_sent(
    space: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that adds several events (as a batch of consumed events does) costs the database one
    row to insert and to delete, and its events leave in the order written; a row an earlier
    version left, one event with its fields at the top level, still leaves."""
    earlier = {"topic": space.topic, "key": "ord-0", "value": b"left by an earlier version", "headers": {}}
    await space.db["outbox"].insert_one(earlier | {"created_at": utcnow(), "published_at": None})
    async with relaying(space, monkeypatch, relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, _):
        writer = outbox.Outbox(runtime.db, source="test")  # not the runtime's: the relay is not handed its row

        async def work(session: Session) -> None:
            with outbox.gathering(session) as gathered:
                for i in range(5):
                    await writer.add_raw(session, space.topic, f"ord-{i % 2 + 1}", f"event-{i}".encode())
            await writer.flush(session, gathered)

        await in_transaction(runtime.client, work)
        # The relay only looks when woken (it was not): the row is there to be counted.
        assert await space.db["outbox"].count_documents({"events": {"$exists": True}}) == 1
        runtime.events_written(None)
        messages = await received(space, 6)
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="both rows deleted")
    assert ("ord-0", "left by an earlier version") in messages
    assert [value for key, value in messages if key == "ord-1"] == ["event-0", "event-2", "event-4"]
    assert [value for key, value in messages if key == "ord-2"] == ["event-1", "event-3"]


async def test_rows_embedded_in_documents_leave_in_the_order_written_and_are_unset_once_sent(
    space: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document that carries its own row (an order with its `order_placed` event: one insert, no
    transaction) is relayed like an outbox row: found by a look or handed over by its writer, sent
    between the rows written before and after it, then taken out of the document, which stays."""
    monkeypatch.setattr(outbox, "LOOK_EVERY_SECONDS", NEVER)
    documents = space.db["orders"]

    async def embed(order_id: str, value: str) -> outbox.Row:
        row = {
            "_id": ObjectId(),
            "created_at": utcnow(),
            "events": [{"topic": space.topic, "key": order_id, "value": value.encode(), "headers": {}}],
        }
        document = {"_id": order_id, "status": "PENDING", outbox.EMBEDDED: row}
        await documents.insert_one(document)
        return outbox.embedded_in(document, "orders")

    async def embedded_left() -> int:
        return await documents.count_documents({outbox.EMBEDDED: {"$exists": True}})

    async with relaying(space, monkeypatch, embedded=("orders",), relay_poll_seconds=NEVER, job_idle_max_seconds=NEVER) as (runtime, _):
        await write(runtime, space.topic, "ord-0", "before")
        await embed("ord-0", "found by a look")  # another instance's: the relay is not handed it
        await write(runtime, space.topic, "ord-0", "after")
        runtime.events_written(None)
        await eventually(embedded_left, lambda n: n == 0, timeout=15, what="the looked-up row sent and unset")
        runtime.events_written([await embed("ord-1", "handed over")])
        await eventually(embedded_left, lambda n: n == 0, timeout=15, what="the handed row sent and unset")
        await eventually(lambda: unpublished(space), lambda n: n == 0, timeout=15, what="the outbox's rows deleted")
    messages = await received(space, 4)
    assert list(dict.fromkeys(value for key, value in messages if key == "ord-0")) == ["before", "found by a look", "after"]
    assert ("ord-1", "handed over") in messages
    assert await documents.count_documents({"status": "PENDING"}) == 2  # the documents themselves stay
