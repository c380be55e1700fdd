"""The inbox: a consumed event's id is recorded in the same transaction as its handler's writes,
so a second delivery of the event finds the id and changes nothing.

The events a consumer's partitions hand over at the same time are written together (issue 11):
one transaction with one insert of their inbox rows, one of the events their handlers add to the
outbox and one commit, instead of those per event (group_commit.py). Their handlers run one after
another in it, each under its own event's trace. A batch that fails is written again one event at
a time: a handler's failure is then its own event's (retried, then dead-lettered, by the
consumer), and a redelivered event, whose inbox row aborts the batch's transaction as a duplicate
key, is recognised and skipped there.

A subscription may name, per event type, the keys an event's handler writes (`writes`): an event
whose keys a batch being written holds waits for a later batch, which the group commit starts once
that batch has committed. The batches written at the same time never write the same documents
(they would only conflict and retry), and events that overlap share one transaction. Another
instance's writes, or a dead letter replayed by hand, are settled by the transaction's retry.

An event type may be state-guarded (`Subscription.state_guarded`): its handler is idempotent by
the state it checks (a redelivery, a replay from offset 0 or an old copy arriving after newer
events changes nothing and publishes nothing, e.g. orders' PENDING -> AWAITING_PAYMENT moves only
a PENDING order). Such an event is written as the others are, in the same shared transactions
(its handler may write several documents and add outbox rows), but without an inbox row: the
row would be an insert that never dedupes anything the state does not (issue 11). A batch none
of whose events needs a row sends no inbox insert at all. When a batch fails and is written again
one event at a time, a state-guarded event runs again like any other (the batch's transaction
wrote nothing), and a duplicate inbox row concerns only its own, unguarded, event.

A subscription may also give a `scope` around the handlers of one transaction: what they can share
beyond the inbox and outbox rows, such as one `$in` read of all their documents before they run
and one bulk write of their changes after (a unit of work; orders.store is one).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from opentelemetry.context import Context
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from beli_contracts import Envelope, EventPayload
from beli_runtime import metrics, tracing
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import GroupCommit
from beli_runtime.mongo import Database, Session, database_unavailable, in_transaction
from beli_runtime.outbox import Outbox, Row, counting, gathering

Handler = Callable[[Envelope, Any, Session], Awaitable[None]]
# The keys (e.g. product ids) an event's handler will write, from the event alone.
WrittenKeys = Callable[[Envelope, Any], Iterable[str]]
# Around the handlers of one transaction, given its session and their events' payloads (in order).
BatchScope = Callable[[Session, Sequence[Any]], AbstractAsyncContextManager[object]]


def no_scope(session: Session, payloads: Sequence[Any]) -> AbstractAsyncContextManager[object]:
    return nullcontext()


Unit = TypeVar("Unit")


class OpenUnits(Generic[Unit]):
    """The unit of work a scope opened for each transaction, by its session: the handlers find
    their transaction's with `of`, and `opened` writes it after them (not after a failure: the
    transaction aborts) and forgets it either way."""

    def __init__(self) -> None:
        self._open: dict[Session, Unit] = {}

    def of(self, session: Session | None) -> Unit | None:
        return self._open.get(session) if session is not None else None

    @asynccontextmanager
    async def opened(self, session: Session, unit: Unit, write: Callable[[], Awaitable[object]]) -> AsyncIterator[Unit]:
        self._open[session] = unit
        try:
            yield unit
            await write()
        finally:
            self._open.pop(session, None)


@dataclass(frozen=True)
class Consumed:
    """An event to handle, with the trace of its consumer span."""

    envelope: Envelope
    payload: EventPayload
    handler: Handler
    trace: Context | None


class Outcome(NamedTuple):
    fresh: bool  # False: the inbox already held it, nothing was done
    # The outbox rows its transaction committed, for the relay (a batch's first event holds them all).
    events: Sequence[Row]


class _AlreadySeen(Exception):
    """The inbox already holds the event id: only this duplicate key means "seen"."""


class Inbox:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        db: Database,
        outbox: Outbox,
        writes: Mapping[str, WrittenKeys],
        *,
        writers: int,
        scope: BatchScope = no_scope,
        state_guarded: frozenset[str] = frozenset(),
    ) -> None:
        self._client = client
        self._rows = db["inbox"]
        self._outbox = outbox
        self._writes = writes
        self._scope = scope
        self._guarded = state_guarded
        self._batches = GroupCommit(
            self._write, "consumed events", not_the_items_fault=database_unavailable, writers=writers, keys=self._keys
        )

    async def apply(self, envelope: Envelope, payload: EventPayload, handler: Handler) -> Sequence[Row]:
        """Handle the event with its inbox row, in a batch with the events handed over at the same
        time; the outbox rows its transaction added."""
        outcome = await self._batches.submit(Consumed(envelope, payload, handler, tracing.current()))
        return self._counted(envelope, outcome)

    async def apply_alone(self, envelope: Envelope, payload: EventPayload, handler: Handler) -> Sequence[Row]:
        """The same in a transaction of its own (a dead letter replayed by hand)."""
        return self._counted(envelope, await self._alone(Consumed(envelope, payload, handler, None)))

    @staticmethod
    def _counted(envelope: Envelope, outcome: Outcome) -> Sequence[Row]:
        metrics.EVENTS_CONSUMED.labels(envelope.type, "processed" if outcome.fresh else "duplicate").inc()
        return outcome.events

    async def _write(self, events: Sequence[Consumed]) -> list[Outcome]:
        if len(events) == 1:
            return [await self._alone(events[0])]

        rows = [self._row(event.envelope) for event in events if self._needs_row(event)]

        async def work(session: Session) -> None:
            if rows:
                await self._rows.insert_many(rows, ordered=True, session=session)
            with gathering(session) as gathered:
                async with self._scope(session, [event.payload for event in events]):
                    for event in events:
                        with tracing.within(event.trace):
                            await event.handler(event.envelope, event.payload, session)
            await self._outbox.flush(session, gathered)

        with counting() as added:
            await in_transaction(self._client, work, restart=added.restart)
        metrics.CONSUMER_BATCH_EVENTS.observe(len(events))
        return [Outcome(True, added.rows)] + [Outcome(True, [])] * (len(events) - 1)

    async def _alone(self, event: Consumed) -> Outcome:
        async def work(session: Session) -> bool:
            # The inbox row is the dedupe: its insert fails for an event seen before (one round
            # trip instead of a look-up and an insert for every new event). A state-guarded
            # event has none: its handler finds the state it would have left and does nothing.
            if self._needs_row(event):
                try:
                    await self._rows.insert_one(self._row(event.envelope), session=session)
                except DuplicateKeyError:
                    raise _AlreadySeen from None
            # A duplicate key raised by the handler is the handler's failure: retried, then dead-lettered.
            with gathering(session) as gathered, tracing.within(event.trace):
                async with self._scope(session, [event.payload]):
                    await event.handler(event.envelope, event.payload, session)
            await self._outbox.flush(session, gathered)
            return True

        with counting() as added:
            try:
                fresh = await in_transaction(self._client, work, restart=added.restart)
            except _AlreadySeen:
                fresh = False
        metrics.CONSUMER_BATCH_EVENTS.observe(1)
        return Outcome(fresh, added.rows if fresh else [])

    def _needs_row(self, event: Consumed) -> bool:
        return event.envelope.type not in self._guarded

    def _keys(self, event: Consumed) -> Iterable[str]:
        written = self._writes.get(event.envelope.type)
        return written(event.envelope, event.payload) if written else ()

    @staticmethod
    def _row(envelope: Envelope) -> dict[str, Any]:
        return {"_id": str(envelope.id), "type": envelope.type, "at": utcnow()}
