"""Transactional outbox: events are written with the state change, then relayed to Kafka.

A write that must produce events inserts them into `outbox` in the same MongoDB transaction;
the relay publishes the rows in order and then deletes them (Kafka keeps the events; a deleted row
costs the database less than a marked one, and nothing to expire later). A crash between publish
and delete re-sends the row, so consumers dedupe by event id (they do: see consumer.py).

A row holds all the events one insert adds, in order (`events`): the events of a batch of
consumed events (inbox.py) or of a group-committed write are one document, inserted and deleted
once, instead of one each (issue 11: the outboxes were a quarter of the documents the database
wrote per paid order). Rows written before 2026-12-07 are one event each, its fields at the top
level (`events_of` reads both).

A write that is one document needs no transaction for its events: the row can travel in the
document itself, in its `outbox` field (an *embedded* row: orders' checkouts, issue 11). The relay
of a service whose collections embed rows reads them beside the outbox's, in one order, and
unsets the field once they are sent.
"""

import asyncio
import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from bson import ObjectId

from beli_contracts import TYPE_HEADER, Envelope, EventPayload
from beli_runtime import metrics, tracing
from beli_runtime.clock import as_utc, utcnow
from beli_runtime.kafka import new_producer, stop_quietly
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Collection, Database, Session, drop_index, ensure_index, in_transaction

log = get_logger(__name__)
Row = dict[str, Any]  # an outbox row as inserted: _id, created_at, published_at, events
Event = dict[str, Any]  # one event of a row: topic, key, value, headers (, trace: the trace that wrote it)
# The rows a commit added, handed to the relay; None: rows were added that the caller does not hold.
Committed = Sequence[Row] | None
EMBEDDED = "outbox"  # the field of a document that holds its embedded row
# In memory only: where an embedded row lives, (collection, the document's _id).
EMBEDDED_IN = "embedded_in"
_EVER = datetime(1970, 1, 1, tzinfo=UTC)  # every embedded row was written after it (the look's range)
BATCH = 200  # rows (each holding one or more events) per look
# Sent rows are deleted together, at most this long after the oldest of them was sent, or as soon
# as this many wait (see OutboxRelay).
DELETE_AFTER_ROWS = 100
DELETE_AFTER_SECONDS = 1.0
# Rows handed to the relay by this process's commits, sent without a look (see OutboxRelay): at
# most this many wait for a step (beyond, as on an instance whose relay does not hold the lease,
# they are forgotten and the next step looks instead); and the relay still looks at least this
# often while it has rows handed to it, for rows this process does not hold (another instance's,
# one written outside a counting scope).
OFFERED_LIMIT = 1000
LOOK_EVERY_SECONDS = 1.0


class Written:
    """The outbox rows that the transaction run inside a `counting()` scope added: those of its
    last attempt (`restart` at each attempt of a transaction PyMongo retries), so once it has
    committed, exactly the rows it committed: its caller wakes the relay only if there are some (a
    handler or a write that adds no event would only cost the relay a look that finds nothing) and
    hands them to it (`OutboxRelay.offer`)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def restart(self) -> None:
        self.rows = []


_written: ContextVar[Written | None] = ContextVar("beli_outbox_written", default=None)


@contextmanager
def counting() -> Iterator[Written]:
    """Around a transaction and its commit (see Written). Tasks started inside the scope count into
    it too (they share the object)."""
    written = Written()
    reset = _written.set(written)
    try:
        yield written
    finally:
        _written.reset(reset)


def _added(rows: list[Row]) -> None:
    written = _written.get()
    if written is not None:
        written.rows.extend(rows)


def events_of(row: Row) -> list[Event]:
    """A row's events, in the order written (a row of a version before 2026-12-07 is one event)."""
    events: list[Event] = row.get("events", [row])
    return events


class Gathered:
    """Events added in one session's transaction inside a `gathering()` scope, to be inserted
    together, as one row, by `Outbox.flush` (events added in another session go in at once, as
    usual)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.events: list[Event] = []


_gathered: ContextVar[Gathered | None] = ContextVar("beli_outbox_gathered", default=None)


@contextmanager
def gathering(session: Session) -> Iterator[Gathered]:
    """Inside a transaction whose work adds events in several places (the handlers of a batch of
    consumed events, inbox.py): hold the events back, so that `Outbox.flush` inserts them all in
    one row before the commit instead of one insert each."""
    gathered = Gathered(session)
    reset = _gathered.set(gathered)
    try:
        yield gathered
    finally:
        _gathered.reset(reset)


class Outbox:
    def __init__(self, db: Database, source: str, embedded: Sequence[str] = ()) -> None:
        self._rows = db["outbox"]
        self._embedding = [db[name] for name in embedded]  # the collections whose documents embed rows
        self.source = source

    async def ensure_indexes(self) -> None:
        await ensure_index(self._rows, [("published_at", 1), ("created_at", 1), ("_id", 1)])
        for collection in self._embedding:
            # Sparse: only the documents whose row is not sent yet are in it (the relay's look).
            await ensure_index(collection, [(f"{EMBEDDED}.created_at", 1), (f"{EMBEDDED}._id", 1)], sparse=True)
        # Versions before 2026-12-06 marked sent rows (`published_at`) and let a TTL index expire
        # them; rows are deleted once sent now. The rows such a version left are deleted here and its
        # index dropped: it cost every row's insert and delete an index write (issue 11), and the
        # planner chose it over the index above for the relay's look.
        await self._rows.delete_many({"published_at": {"$ne": None}})
        await drop_index(self._rows, "published_ttl")

    async def add(self, session: Session, payload: EventPayload, *, key: str, correlation_id: str | None = None) -> Envelope:
        envelope = Envelope.wrap(payload, key=key, source=self.source, correlation_id=correlation_id)
        await self.add_raw(session, envelope.topic, key, envelope.to_bytes(), {TYPE_HEADER: envelope.type})
        return envelope

    async def add_many(self, session: Session, payloads: list[EventPayload], *, key: str) -> list[Envelope]:
        """Several events of one aggregate, in this order, in one row."""
        envelopes = [Envelope.wrap(payload, key=key, source=self.source) for payload in payloads]
        await self._insert(session, [_event(e.topic, key, e.to_bytes(), {TYPE_HEADER: e.type}) for e in envelopes])
        return envelopes

    async def add_each(
        self, session: Session, events: Sequence[tuple[EventPayload, str, Mapping[str, str] | None]], *, correlated: bool = False
    ) -> list[Envelope]:
        """Events of several aggregates in one row: each (payload, key, the trace it continues when
        that is not the current one), in this order. `correlated`: each event's correlation id is
        its key (the aggregate's id), as `add(..., correlation_id=key)` gives."""
        envelopes, written = self._wrapped(events, correlated)
        await self._insert(session, written)
        return envelopes

    def embedded_row(self, events: Sequence[tuple[EventPayload, str, Mapping[str, str] | None]], *, correlated: bool = False) -> Row:
        """A row (as `add_each` would write) for a document to carry in its EMBEDDED field, so that
        one insert without a transaction stores the state and its events together. The writer hands
        it to the relay once stored (`embedded_in`, `ServiceRuntime.events_written`)."""
        _, written = self._wrapped(events, correlated)
        return {"_id": ObjectId(), "created_at": utcnow(), "events": written}

    def _wrapped(
        self, events: Sequence[tuple[EventPayload, str, Mapping[str, str] | None]], correlated: bool
    ) -> tuple[list[Envelope], list[Event]]:
        envelopes = [
            Envelope.wrap(payload, key=key, source=self.source, correlation_id=key if correlated else None) for payload, key, _ in events
        ]
        written = [
            _event(e.topic, e.key, e.to_bytes(), {TYPE_HEADER: e.type}, trace) for e, (_, _, trace) in zip(envelopes, events, strict=True)
        ]
        return envelopes, written

    async def add_raw(self, session: Session, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        await self._insert(session, [_event(topic, key, value, headers)])

    async def _insert(self, session: Session, events: list[Event]) -> None:
        if not events:
            return
        gathered = _gathered.get()
        if gathered is not None and gathered.session is session:
            gathered.events.extend(events)
        else:
            await self._insert_row(session, events)

    async def flush(self, session: Session, gathered: Gathered) -> None:
        """Insert the events a `gathering()` scope held back, in the order they were added, as one row."""
        if gathered.events:
            events, gathered.events = gathered.events, []
            await self._insert_row(session, events)

    async def _insert_row(self, session: Session, events: list[Event]) -> None:
        row: Row = {"_id": ObjectId(), "created_at": utcnow(), "published_at": None, "events": events}
        _added([row])
        await self._rows.insert_one(row, session=session)


async def unsent_rows(db: Database, embedded: Sequence[str] = (), limit: int = 0) -> list[Row]:
    """The rows not yet sent, oldest first: the outbox's and those embedded in the documents of the
    `embedded` collections (each with EMBEDDED_IN), at most `limit` of each (0: all)."""
    rows: list[Row] = await db["outbox"].find({"published_at": None}).sort([("created_at", 1), ("_id", 1)]).limit(limit).to_list()
    for name in embedded:
        rows += await _embedded_rows(db[name], limit)
    if embedded:
        rows.sort(key=_written_order)
    return rows


async def _embedded_rows(collection: Collection, limit: int) -> list[Row]:
    query = collection.find({f"{EMBEDDED}.created_at": {"$gte": _EVER}}, {EMBEDDED: 1})
    documents = await query.sort([(f"{EMBEDDED}.created_at", 1), (f"{EMBEDDED}._id", 1)]).limit(limit).to_list()
    return [embedded_in(document, collection.name) for document in documents]


def embedded_in(document: Mapping[str, Any], collection: str) -> Row:
    """The row a stored document of `collection` carries, with where it lives (for the relay)."""
    return {**document[EMBEDDED], EMBEDDED_IN: (collection, document["_id"])}


async def _unset(collection: Collection, rows: Mapping[ObjectId, Any], session: Session) -> None:
    """Take the sent `rows` (row id -> the document it is embedded in) out of their documents."""
    sent_here = {"_id": {"$in": list(rows.values())}, f"{EMBEDDED}._id": {"$in": list(rows)}}
    await collection.update_many(sent_here, {"$unset": {EMBEDDED: ""}}, session=session)


def _written_order(row: Row) -> tuple[datetime, ObjectId]:
    return as_utc(row["created_at"]), row["_id"]


def _event(topic: str, key: str, value: bytes, headers: dict[str, str] | None, trace: Mapping[str, str] | None = None) -> Event:
    event: Event = {"topic": topic, "key": key, "value": value, "headers": headers or {}}
    # The trace this event belongs to is the one writing it (or the one given), not the relay's that sends it later.
    trace = trace or tracing.carrier()
    if trace:
        event["trace"] = dict(trace)
    return event


class OutboxRelay:
    """Publishes unpublished outbox rows; run as a leased background job (one instance at a time).

    The rows a transaction of this process committed are handed to the relay (`offer`) when it
    wakes it, and its next step sends them without looking for them: a look is a find for the
    database and, on the saga's path, a round trip more for each event between its commit and
    Kafka (issue 11). The relay still looks at its first step, at least every LOOK_EVERY_SECONDS
    while rows are handed to it, on a wake-up or a poll without any, and after a failed send: for
    rows it does not hold (another instance's, those a crash left, rows forgotten beyond
    OFFERED_LIMIT). Rows are sent in the order written (`created_at`, `_id`), as the look sorts
    them; the handed rows committed since the last look are all newer than what it found.

    Sent rows are deleted beside the steps, never by them (under a payday rush a delete of orders'
    outbox rows waited 0.4–1.6 s for the outbox's writers, and every event of the service waited
    behind it for Kafka: the rate fell by half for a minute), and together: one delete, on a
    timer, for the rows sent in DELETE_AFTER_SECONDS (sooner once DELETE_AFTER_ROWS wait). A
    delete per step was 1.0 database operation per paid order of the three services' 22 (issue
    11). A look leaves out the rows sent and not yet deleted; another instance taking over
    re-sends them (consumers dedupe by event id, as after a crash between a publish and its
    delete)."""

    def __init__(self, db: Database, bootstrap: str, client_id: str, embedded: Sequence[str] = ()) -> None:
        self._db = db
        self._rows = db["outbox"]
        self._embedded = tuple(embedded)  # the collections whose documents embed rows
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._sent: list[ObjectId] = []  # sent, not yet deleted, oldest first
        self._homes: dict[ObjectId, tuple[str, Any]] = {}  # the embedded rows of `_sent`: where each lives
        self._sent_since = 0.0
        self._offered: list[Row] = []  # committed since the last look, handed over by this process
        self._look_next = True  # the next step looks (and rows handed over meanwhile are not kept)
        self._last_look = -float("inf")
        self._deleting: asyncio.Task[None] | None = None  # the delete running beside the steps
        self._delete_now = asyncio.Event()  # the rows waiting are many, or the relay stops

    def offer(self, rows: Sequence[Row]) -> None:
        """Rows a transaction of this process has committed, for the next step to send."""
        if self._look_next:
            return  # the look finds them
        if len(self._offered) + len(rows) > OFFERED_LIMIT:
            self.look()
            return
        self._offered.extend(rows)

    def look(self) -> None:
        """Make the next step look for the rows to send (rows were written that it is not handed)."""
        self._look_next = True
        self._offered = []

    async def step(self) -> bool:
        """The job's step: True when the look was full, so more rows may be waiting now.
        A smaller look means the outbox held no more when we looked; rows committed since then
        woke the job, which looks again after this step (a wake-up is never lost)."""
        return (await self._publish(wait_for_delete=False))[1]

    async def publish_pending(self) -> int:
        """Publish the oldest unpublished rows (at most BATCH), in the order written; how many."""
        return (await self._publish())[0]

    async def _publish(self, wait_for_delete: bool = True) -> tuple[int, bool]:
        """(rows published, whether the look was full)."""
        try:
            rows, full = await self._next_rows()
            metrics.OUTBOX_OLDEST_SECONDS.set((utcnow() - as_utc(rows[0]["created_at"])).total_seconds() if rows else 0)
            if rows:
                await self._send(rows)
                if not self._sent:
                    self._sent_since = time.monotonic()
                self._sent += [row["_id"] for row in rows]
                self._homes.update((row["_id"], row[EMBEDDED_IN]) for row in rows if EMBEDDED_IN in row)
            if wait_for_delete:
                await self.delete_sent()
            else:
                self._delete_beside()
        except BaseException:  # the database, Kafka, or the watchdog cancelling a stuck step
            self.look()  # what this step took is found again, in order, by the next one
            raise
        return len(rows), full

    async def _next_rows(self) -> tuple[list[Row], bool]:
        """The rows handed over since the last step, or a look's; and whether the look was full."""
        offered, self._offered = self._offered, []
        sent = set(self._sent)
        if offered and not self._look_next and time.monotonic() - self._last_look < LOOK_EVERY_SECONDS:
            return sorted((row for row in offered if row["_id"] not in sent), key=_written_order), False
        self._look_next, self._last_look = False, time.monotonic()
        # The rows sent and not yet deleted are still there: the look takes as many more, so that
        # they never fill it and make it seem full. (A `$nin` of them in the filter made the server
        # scan the whole collection.)
        found = await unsent_rows(self._db, self._embedded, limit=BATCH + len(sent))
        rows = [row for row in found if row["_id"] not in sent]
        return rows[:BATCH], len(rows) >= BATCH

    async def delete_sent(self) -> None:
        """Delete the rows sent so far now, after the delete running beside the steps (kept for the
        next try if the write fails: they are re-sent, at worst, by whoever relays next)."""
        if self._deleting is not None:
            self._delete_now.set()
            await asyncio.wait({self._deleting})
        if self._sent:
            await self._forget(list(self._sent))

    def _delete_beside(self) -> None:
        """Have the rows sent so far deleted beside the steps: by the delete waiting for its time,
        or by a new one."""
        if len(self._sent) >= DELETE_AFTER_ROWS:
            self._delete_now.set()
        if self._sent and (self._deleting is None or self._deleting.done()):
            self._deleting = asyncio.create_task(self._delete(), name="outbox-delete")

    async def _delete(self) -> None:
        """Deletes beside the steps, each DELETE_AFTER_SECONDS after the oldest row it deletes was
        sent (or once DELETE_AFTER_ROWS wait), until none is left; a failure leaves the rows for a
        later delete."""
        while self._sent:
            wait = self._sent_since + DELETE_AFTER_SECONDS - time.monotonic()
            if wait > 0 and not self._delete_now.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._delete_now.wait(), wait)
            self._delete_now.clear()
            sent = list(self._sent)
            try:
                await self._forget(sent)
            except Exception as error:  # noqa: BLE001 - the database may be away; the rows stay in `_sent`
                log.warning("outbox.delete_failed", rows=len(sent), error=repr(error)[:300])
                return

    async def _forget(self, sent: list[ObjectId]) -> None:
        """Delete the outbox's rows among `sent` and unset the embedded ones, one write for each
        collection. The unset is a transaction: its documents are the service's own, which its
        transactions change meanwhile, and SecantusDB retries a write outside a transaction that
        conflicts with one for as long as that lasts, which can be for ever (the consumer's
        transaction then waited for the retrying write: both stood still); a transaction's
        conflict fails at once and is retried by PyMongo."""
        homes: dict[str | None, dict[ObjectId, Any]] = {}
        for row in sent:
            name, document = self._homes.get(row, (None, None))
            homes.setdefault(name, {})[row] = document
        for name, rows in homes.items():
            if name is None:
                await self._rows.delete_many({"_id": {"$in": list(rows)}})
            else:
                await in_transaction(self._db.client, partial(_unset, self._db[name], rows))
        deleted = set(sent)
        self._sent = [row for row in self._sent if row not in deleted]  # steps may have sent more meanwhile
        for row in sent:
            self._homes.pop(row, None)
        self._sent_since = time.monotonic()

    async def _send(self, rows: list[Row]) -> None:
        publication = tracing.Publication()
        try:
            producer = await self._ready_producer()
            sent = [
                await producer.send(
                    event["topic"],
                    bytes(event["value"]),
                    key=event["key"].encode(),
                    headers=_headers(event, as_utc(row["created_at"]), publication),
                )
                for row in rows
                for event in events_of(row)
            ]
            await asyncio.gather(*sent)
        except Exception as error:
            publication.end(error)
            # A wedged idempotent producer (e.g. after a broker restart) only recovers when recreated.
            await self.close()
            raise
        publication.end()
        for row in rows:
            for event in events_of(row):
                metrics.EVENTS_PUBLISHED.labels(event.get("headers", {}).get(TYPE_HEADER, "unknown")).inc()
        log.debug("outbox.published", count=len(rows))

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap, self._client_id)
            try:
                await producer.start()
            except Exception:
                await stop_quietly(producer)
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await stop_quietly(producer)


def _headers(event: Event, written_at: datetime, publication: tracing.Publication) -> list[tuple[str, bytes]]:
    headers = [(name, str(value).encode()) for name, value in event.get("headers", {}).items()]
    attributes = {"messaging.kafka.message.key": event["key"], "beli.event.type": event.get("headers", {}).get(TYPE_HEADER, "")}
    return headers + publication.headers(event.get("trace"), event["topic"], written_at, attributes)
