"""Idempotent Kafka consumers: inbox + state change in one transaction, offsets committed after.

At-least-once delivery means every event may arrive again (redelivery after a crash, a
rebalance, a replay from offset 0). Each event's id is recorded in `inbox` in the same MongoDB
transaction as the handler's writes, so a second delivery finds the id and changes nothing
(a state-guarded type's handler finds the state it left instead, and has no row: inbox.py).
A handler that keeps failing is retried with backoff, then dead-lettered (recorded in
`dead_letters` and published to `<group>.dead-letter`) so that its partition moves on.

Partitions are handled concurrently (at most `concurrency` events at a time), each partition's
events strictly one after another (partitions.py): events are keyed by aggregate id, so one
order's events stay in order while different orders' events overlap their database round trips.
Offsets are committed, per partition, only up to the last event that finished. The events in
hand at the same time are written in shared transactions (inbox.py).
"""

import asyncio
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from beli_contracts import Envelope, EventPayload, UnknownEventType, dead_letter_topic, decode, event_types, type_in_headers
from beli_runtime import metrics, tracing
from beli_runtime.clock import utcnow
from beli_runtime.inbox import BatchScope, Handler, Inbox, WrittenKeys, no_scope
from beli_runtime.kafka import ensure_topics, stop_quietly
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Database, Session, database_unavailable, ensure_index, in_transaction
from beli_runtime.outbox import Committed, Outbox, Row, counting
from beli_runtime.partitions import PartitionWorkers
from beli_runtime.retry import Backoff
from beli_runtime.watchdog import watched

log = get_logger(__name__)
# Retries in place hold the partition, so their pauses stay short.
RETRY_CAP_SECONDS = 5.0
# Events handled at once across partitions (each partition stays sequential).
CONCURRENCY = 8
# Shared transactions of handed-over events written at once (inbox.py).
BATCH_WRITERS = 2
# While events flow, offsets are committed at most this often (and always when partitions are
# released: a rebalance, a stop). Each commit is a request to the group coordinator and a write to
# `__consumer_offsets`; committed after every fetch, as they were, they were 2.5 of the broker's
# 8.4 requests per paid order in a 500-order `make bench` (0.5 of 6.8 since; its request log,
# issue 11). A crash now redelivers what finished since the last commit, at most this long's
# worth, and the inbox dedupes it.
COMMIT_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class Subscription:
    """Which event types a service reacts to, and how. Types not listed are ignored. `writes`
    names, per event type, the keys its handler writes: events with overlapping keys are handled
    one after another in this process; types not listed there take no lock.

    `self_deduplicating` (opt-in) names types whose handler dedupes the event by itself, in the
    writes it makes anyway (e.g. a document keyed by the event id whose duplicate key means
    "seen"), and completes on a redelivery what a failure cut short: they run without the inbox
    row and outside a transaction (an insert and a commit fewer per event). Anything else
    (counters, `$set`, events to publish) needs the inbox.

    `state_guarded` (opt-in) names types whose handler is idempotent by the state it checks: a
    redelivery, a replay from offset 0 or an old copy arriving after newer events changes nothing
    and publishes nothing. They are handled in the shared transactions as the others are, without
    the inbox row (inbox.py). Each such handler needs a test that delivers its event twice.

    `scope` wraps the handlers of each transaction (inbox.py): e.g. one read of all their orders
    before they run and one bulk write of their changes after."""

    topics: tuple[str, ...]
    handlers: dict[str, Handler]
    writes: dict[str, WrittenKeys] = field(default_factory=dict)
    self_deduplicating: frozenset[str] = frozenset()
    state_guarded: frozenset[str] = frozenset()
    scope: BatchScope = no_scope


class PoisonEvent(Exception):
    """The message can never be processed as it is (not an envelope, or invalid data)."""

    def __init__(self, message: str, envelope: Envelope | None = None) -> None:
        super().__init__(message)
        self.envelope = envelope


class EventConsumer:
    def __init__(
        self,
        *,
        client: AsyncMongoClient[dict[str, Any]],
        db: Database,
        outbox: Outbox,
        bootstrap: str,
        group_id: str,
        subscription: Subscription,
        max_attempts: int,
        retry_base_seconds: float,
        # After each commit: the types of the events it handled, and whether it added outbox rows.
        after_commit: Callable[[frozenset[str], Committed], None] = lambda handled, events: None,
        concurrency: int = CONCURRENCY,
        batch_writers: int = BATCH_WRITERS,
    ) -> None:
        self._client = client
        self._db = db
        self._outbox = outbox
        self._bootstrap = bootstrap
        self.group_id = group_id
        self.subscription = subscription
        self._max_attempts = max_attempts
        self._backoff = Backoff(retry_base_seconds, RETRY_CAP_SECONDS)
        self._after_commit = after_commit
        self._stopping = False
        self._concurrency = concurrency
        self._commits = asyncio.Lock()  # one offset commit at a time, in order
        self._next_commit = 0.0  # time.monotonic() before which the loop leaves finished offsets
        self._workers = PartitionWorkers(self._handle_message, concurrency)
        self._kafka: AIOKafkaConsumer | None = None
        self._inbox = Inbox(
            client,
            db,
            outbox,
            subscription.writes,
            writers=batch_writers,
            scope=subscription.scope,
            state_guarded=subscription.state_guarded,
        )

    async def ensure_indexes(self) -> None:
        await ensure_index(self._db["dead_letters"], [("status", 1), ("failed_at", 1)])

    async def run(self) -> None:
        await self._until_ok(lambda: ensure_topics(self._bootstrap, [dead_letter_topic(self.group_id)]))
        while not self._stopping:
            self._kafka = AIOKafkaConsumer(
                *self.subscription.topics,
                bootstrap_servers=self._bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=100,
            )
            self._workers = PartitionWorkers(self._handle_message, self._concurrency)
            self._kafka.subscribe(list(self.subscription.topics), listener=_CommitOnRevoke(self))
            try:
                await self._kafka.start()
                await self._consume(self._kafka)
            except asyncio.CancelledError:
                raise
            except KafkaError as error:
                # Consumers can wedge after a broker restart; a fresh client recovers.
                log.warning("consumer.restarting", group=self.group_id, error=repr(error))
                await asyncio.sleep(1)
            except Exception as error:  # noqa: BLE001 - a worker's unexpected failure: start again from the committed offsets
                log.error("consumer.restarting", group=self.group_id, error=repr(error))
                await asyncio.sleep(1)
            finally:
                await stop_quietly(self._kafka)

    async def stop(self) -> None:
        self._stopping = True

    async def _consume(self, kafka: AIOKafkaConsumer) -> None:
        try:
            while not self._stopping:
                batches = await kafka.getmany(timeout_ms=500, max_records=100)
                for partition, messages in batches.items():
                    self._workers.take(kafka, partition, messages)
                if time.monotonic() >= self._next_commit:
                    await self.commit_done(kafka)
                self._workers.check()
        finally:
            # Stopping, or a client to replace: the events being handled finish, the rest wait
            # (uncommitted) for the next client or owner.
            await self.release(kafka, None)

    async def release(self, kafka: AIOKafkaConsumer, partitions: list[TopicPartition] | None) -> None:
        """Finish the given partitions' (all: None) events in hand, and commit what finished."""
        if partitions is None:
            await self._workers.release_all()
        else:
            await self._workers.release(partitions)
        await self.commit_done(kafka)

    async def _handle_message(self, message: Any) -> None:
        if self._ignored(message.headers):
            return
        await watched(
            self._process(message.value, message.topic, message.partition, message.offset, message.headers),
            f"consumer {self.group_id}",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )

    def _ignored(self, headers: Any) -> bool:
        """Whether the event's type, as its producer's outbox named it in the headers, has no
        handler here: such an event is passed over without decoding it or opening a span for it.
        Most events on a topic are for other services (notifications subscribes to four topics
        and handles a few of their types; issue 11). An event without the header is decoded."""
        event_type = type_in_headers(headers)
        if event_type is None or event_type in self.subscription.handlers:
            return False
        metrics.EVENTS_CONSUMED.labels(event_type, "ignored").inc()
        return True

    async def commit_done(self, kafka: AIOKafkaConsumer) -> None:
        async with self._commits:
            offsets = self._workers.finished()
            if not offsets:
                return
            self._next_commit = time.monotonic() + COMMIT_INTERVAL_SECONDS
            try:
                await kafka.commit(offsets)
            except (CommitFailedError, KafkaError) as error:
                # The partition moved to another member, which will redeliver; the inbox dedupes.
                log.warning("consumer.commit_failed", group=self.group_id, error=repr(error))

    async def _process(self, raw: bytes, topic: str, partition: int, offset: int, headers: Any = ()) -> None:
        """Handle one message under its consumer span, a child of the trace its producer wrote."""
        attributes = {
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": self.group_id,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
        }
        with tracing.consuming(headers, f"process {topic}", attributes):
            await self._handle(raw, topic, partition, offset)

    async def _handle(self, raw: bytes, topic: str, partition: int, offset: int) -> None:
        try:
            envelope, routed = self._route(raw)
        except PoisonEvent as poison:
            await self._dead_letter(raw, poison.envelope, str(poison), topic, partition, offset, attempts=1)
            return
        tracing.describe(
            f"process {envelope.type}",
            {"messaging.message.id": str(envelope.id), "messaging.kafka.message.key": envelope.key, "beli.event.type": envelope.type},
        )
        if routed is None:
            return
        payload, handler = routed
        attempt = 0
        while True:
            attempt += 1
            try:
                self._after_commit(frozenset({envelope.type}), await self._apply(envelope, payload, handler))
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a handler may fail in any way; it is retried, then dead-lettered
                if database_unavailable(error):
                    # Not the event's fault: wait for the database, never dead-letter for this.
                    attempt -= 1
                    log.warning("consumer.database_unavailable", group=self.group_id, error=str(error)[:300])
                    await asyncio.sleep(1)
                    continue
                log.warning(
                    "consumer.handler_failed",
                    group=self.group_id,
                    type=envelope.type,
                    event_id=str(envelope.id),
                    attempt=attempt,
                    error=repr(error),
                )
                if attempt >= self._max_attempts:
                    await self._dead_letter(raw, envelope, _describe(error), topic, partition, offset, attempts=attempt)
                    return
                await asyncio.sleep(self._backoff.seconds(attempt))

    def _route(self, raw: bytes) -> tuple[Envelope, tuple[EventPayload, Handler] | None]:
        """The envelope, and its payload with the handler (None when no handler subscribes to the type)."""
        try:
            envelope = decode(raw)
        except ValidationError as error:
            raise PoisonEvent(f"not a Beli NTT event envelope: {error}") from None
        handler = self.subscription.handlers.get(envelope.type)
        if handler is None:
            metrics.EVENTS_CONSUMED.labels(envelope.type, "ignored").inc()
            return envelope, None
        try:
            return envelope, (envelope.payload(), handler)
        except UnknownEventType:
            # Dropping it would lose the event for good; dead-lettered, it can be replayed once
            # this service is deployed with code that understands the version.
            known = ", ".join(f"v{version}" for (name, version) in sorted(event_types()) if name == envelope.type)
            raise PoisonEvent(
                f"unknown version: {envelope.type} v{envelope.version} (this service understands {known})", envelope
            ) from None
        except ValidationError as error:
            raise PoisonEvent(f"invalid {envelope.type} data: {error}", envelope) from None

    async def _apply(self, envelope: Envelope, payload: EventPayload, handler: Handler, *, alone: bool = False) -> Sequence[Row]:
        """Handle the event (with its inbox row, see inbox.py: in a batch, or `alone` in a
        transaction of its own); the outbox rows it added."""
        if envelope.type not in self.subscription.self_deduplicating:
            inbox = self._inbox.apply_alone if alone else self._inbox.apply
            return await inbox(envelope, payload, handler)
        # A session without a transaction: PyMongo sends nothing to start or end it.
        with counting() as added:
            async with self._client.start_session() as session:
                await handler(envelope, payload, session)
        metrics.EVENTS_CONSUMED.labels(envelope.type, "processed").inc()
        return added.rows

    async def _dead_letter(
        self, raw: bytes, envelope: Envelope | None, error: str, topic: str, partition: int, offset: int, attempts: int
    ) -> None:
        letter_id = str(envelope.id) if envelope else f"undecodable-{uuid.uuid4()}"
        event_type = envelope.type if envelope else "unknown"
        log.error("consumer.dead_lettered", group=self.group_id, type=event_type, event_id=letter_id, error=error[:500])
        tracing.describe(f"dead-letter {event_type}", {"beli.dead_letter": True}, problem=error)

        async def work(session: Session) -> None:
            await self._db["dead_letters"].update_one(
                {"_id": letter_id},
                {
                    "$set": {
                        "group": self.group_id,
                        "topic": topic,
                        "partition": partition,
                        "offset": offset,
                        "type": event_type,
                        "value": raw,
                        "error": error,
                        "attempts": attempts,
                        "failed_at": utcnow(),
                        "status": "dead",
                    }
                },
                upsert=True,
                session=session,
            )
            await self._outbox.add_raw(
                session,
                dead_letter_topic(self.group_id),
                envelope.key if envelope else letter_id,
                raw,
                {"error": error[:1000], "source_topic": topic, "source_offset": str(offset)},
            )

        await self._until_ok(lambda: in_transaction(self._client, work))
        metrics.DEAD_LETTERS.labels(event_type).inc()
        self._after_commit(frozenset(), None)  # the dead letter is an outbox row (not handed over); no handler made work

    async def replay(self, letter_id: str, value: bytes | None = None) -> bool:
        """Process a dead letter again (optionally with corrected bytes); True when it went through."""
        letter = await self._db["dead_letters"].find_one({"_id": letter_id})
        if letter is None:
            raise KeyError(letter_id)
        raw = value if value is not None else bytes(letter["value"])
        try:
            envelope, routed = self._route(raw)
        except PoisonEvent as poison:
            await self._db["dead_letters"].update_one({"_id": letter_id}, {"$set": {"error": str(poison), "replayed_at": utcnow()}})
            return False
        if routed is not None:
            payload, handler = routed
            try:
                events = await self._apply(envelope, payload, handler, alone=True)
            except Exception as error:  # noqa: BLE001 - a replayed handler may fail in any way; the letter keeps the error
                await self._db["dead_letters"].update_one(
                    {"_id": letter_id}, {"$set": {"error": _describe(error), "replayed_at": utcnow()}}
                )
                return False
            self._after_commit(frozenset({envelope.type}), events)
        await self._db["dead_letters"].update_one({"_id": letter_id}, {"$set": {"status": "replayed", "replayed_at": utcnow()}})
        return True

    async def _until_ok(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            try:
                return await attempt()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - infrastructure errors of any kind are retried
                log.warning("consumer.retrying_infrastructure", group=self.group_id, error=repr(error))
                await asyncio.sleep(1)


# aiokafka ships no type information, so its base class is Any to mypy.
class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        kafka = self._consumer._kafka
        if kafka is not None:
            await self._consumer.release(kafka, list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        pass


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()
