"""One background job sends every channel's due deliveries: one query finds what is due on all
channels, one bulk write claims it, and each send then runs on its own, with a timeout, while the
job goes on. Each channel has its own bound of sends in flight, and a channel at its bound is left
out of the next look, so a slow or down provider only ever delays its own channel, never the
others nor the Kafka consumer (which only records intents).

Database operations (issue 11): one look per wake-up for all channels together (it was one, or
two, per channel), one claim per batch, and outcomes of sends that finish together in one write.

Most deliveries are never looked for nor claimed at all: the instance that consumes an event
sends its deliveries itself (`take`). They are written already claimed by it, in the event's own
write, and sent as soon as that write is stored; the job only finds what this left behind (a
channel without room or a provider, a retry, the claim of an instance that died mid-send). A
sent message thus costs two writes of its delivery instead of three, and no look."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger
from beli_runtime.retry import Backoff
from notifications.channels import SendFailed, Transport
from notifications.settings import NotificationsSettings
from notifications.store import Delivery, NotificationsStore, Outcome, claim_fields, new_claim

log = get_logger(__name__)
# A claim outlives the send's own timeout, so it only expires when the sender died.
CLAIM_MARGIN_SECONDS = 5.0
# How long a finished send waits for the others claimed with it, so that their outcomes share one
# write: sends to the local SMTP server and the provider take milliseconds, and a crash in this
# window only means a retry under the same idempotency key.
OUTCOME_LINGER_SECONDS = 0.2
# Under load (the last outcome write ended less than OUTCOME_BUSY_SECONDS ago), a write waits this
# long for the outcomes of other sends, so that one write serves many events' messages.
OUTCOME_GATHER_SECONDS = 0.25
OUTCOME_BUSY_SECONDS = 1.0


class DeliveryJob:
    name = "send"

    def __init__(self, store: NotificationsStore, transports: list[Transport], settings: NotificationsSettings) -> None:
        self.store = store
        self.transports = {transport.channel: transport for transport in transports}
        self.settings = settings
        self.outcomes = Outcomes(store)
        self.in_flight = {channel: 0 for channel in self.transports}
        # Channels that had (or may have had) due deliveries left for lack of room: a send that ends
        # there wakes the job.
        self.waiting: set[str] = set()
        self.wake: Callable[[], None] = lambda: None  # the job's own wake-up, set by the composition root
        self._sends: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._last_look = -float("inf")
        self._full = False

    def retry_at(self, attempts: int) -> Any:
        return Backoff(self.settings.send_retry_base_seconds, self.settings.send_retry_max_seconds).next_attempt_at(attempts)

    async def send_due(self) -> bool:
        """Start sending what is due; True when a full batch was taken (more may be waiting: look
        again at once). Otherwise the next look waits for a wake-up (a new delivery, a resend, a
        send ending on a channel that had to leave some) or the job's interval, which brings retries."""
        if self._stopping:
            return False
        await self._space_looks()
        room = {channel: self.settings.send_concurrency - count for channel, count in self.in_flight.items()}
        open_channels = [channel for channel, free in room.items() if free > 0]
        # A full channel is not looked at: whether it has more due, the end of one of its sends tells.
        self.waiting |= {channel for channel, free in room.items() if free <= 0}
        if self._stopping or not open_channels:
            return False
        due = await self.store.due(open_channels, utcnow(), self.settings.send_batch)
        unconfigured = [delivery.id for delivery in due if not self.transports[delivery.channel].configured()]
        if unconfigured:
            await self.store.skip_all(unconfigured, "channel is not configured")
        taken: list[Delivery] = []
        for delivery in due:
            if delivery.id in unconfigured:
                continue
            if room[delivery.channel] > 0:
                room[delivery.channel] -= 1
                taken.append(delivery)
            else:
                self.waiting.add(delivery.channel)
        claimed = await self.store.claim(taken, utcnow(), self._holds())
        batch = Batch(self.outcomes, len(claimed))
        for delivery in claimed:
            self._start(delivery, batch)
        self._full = len(due) >= self.settings.send_batch
        return self._full and len(taken) + len(unconfigured) == len(due)

    async def _space_looks(self) -> None:
        """Looks are at least SEND_GATHER_SECONDS apart (unless the last one filled a batch): under
        load, the deliveries of the events that arrive meanwhile are found, claimed and marked
        together, so each event no longer costs its own look, claim and outcome write. A message
        leaves at most that much later; the order's own path never waits for it."""
        wait = self._last_look + self.settings.send_gather_seconds - time.monotonic()
        if wait > 0 and not self._full:
            await asyncio.sleep(wait)
        self._last_look = time.monotonic()

    def _start(self, delivery: Delivery, batch: Batch) -> None:
        self.in_flight[delivery.channel] += 1
        self.launch(delivery, batch)

    def launch(self, delivery: Delivery, batch: Batch) -> None:
        """Send a delivery that holds a place in its channel's bound."""
        task = asyncio.create_task(self._send_one(delivery, batch), name=f"send:{delivery.id}")
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _holds(self) -> dict[str, float]:
        """How long a claim lasts on each channel: past the send's own timeout, so that it only
        expires when its sender died."""
        return {channel: transport.timeout_seconds + CLAIM_MARGIN_SECONDS for channel, transport in self.transports.items()}

    def take(self, documents: list[dict[str, Any]]) -> Handover:
        """The deliveries of an event that this instance will send itself once they are written:
        the pending ones on configured channels with room, returned claimed (attempt 1, until the
        channel's hold) so that they are stored taken and no other sender looks for them. Each
        holds a place in its channel's bound until `Handover.start` sends it or `cancel` frees it.
        Messages that go out on no channel (channel "inbox") are stored as they are."""
        now, token, holds = utcnow(), new_claim(), self._holds()
        stored: list[dict[str, Any]] = []
        taken: list[Delivery] = []
        for doc in documents:
            channel = doc["channel"]
            transport = self.transports.get(channel)
            if self._stopping or transport is None or doc["status"] != "pending" or not transport.configured():
                stored.append(doc)
            elif self.in_flight[channel] >= self.settings.send_concurrency:
                stored.append(doc)
                self.waiting.add(channel)
            else:
                self.in_flight[channel] += 1
                doc = doc | claim_fields(now + timedelta(seconds=holds[channel]), token) | {"attempts": 1}
                stored.append(doc)
                taken.append(Delivery.from_document(doc))
        return Handover(self, stored, taken)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the sends in flight (tests; and a stopping service, before its database closes)."""
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=timeout)

    async def stop(self) -> None:
        """Start nothing more and let the sends in flight record their outcomes."""
        self._stopping = True
        await self.settle(max((t.timeout_seconds for t in self.transports.values()), default=0) + 1)

    async def _send_one(self, delivery: Delivery, batch: Batch) -> None:
        try:
            outcome = await self._attempt(delivery)
        finally:
            self.release(delivery.channel)
        try:
            await batch.record(outcome)
        except Exception:  # an outcome not written leaves the claim to expire: retried, same key
            log.exception("notifications.outcome_not_recorded", delivery_id=delivery.id)

    def release(self, channel: str) -> None:
        """The channel's bound is on sends to its provider, not on our outcome writes: a slot held
        until its outcome was written (the linger plus a database round trip, about a second under
        a payday rush) capped each channel at a few sends a second whatever the provider could take,
        and the deliveries left due piled up (2,700 after 1,000 orders; issue 11)."""
        self.in_flight[channel] -= 1
        if channel in self.waiting:
            self.waiting.discard(channel)
            self.wake()

    async def _attempt(self, delivery: Delivery) -> Outcome:
        transport = self.transports[delivery.channel]
        attempts = delivery.attempts
        try:
            async with asyncio.timeout(transport.timeout_seconds):
                provider_id = await transport.send(delivery)
        except (SendFailed, TimeoutError) as error:
            temporary = error.temporary if isinstance(error, SendFailed) else True
            reason = str(error) or f"no answer within {transport.timeout_seconds} s"
            give_up = not temporary or attempts >= self.settings.send_max_attempts
            log.warning(
                "notifications.send_failed",
                delivery_id=delivery.id,
                channel=delivery.channel,
                attempts=attempts,
                temporary=temporary,
                gave_up=give_up,
                error=reason[:300],
            )
            return Outcome(delivery.id, sent=False, error=reason, retry_at=None if give_up else self.retry_at(attempts))
        except Exception as error:  # a bug in one message must not stop the others
            log.exception("notifications.send_crashed", delivery_id=delivery.id)
            retry = None if attempts >= self.settings.send_max_attempts else self.retry_at(attempts)
            return Outcome(delivery.id, sent=False, error=f"unexpected: {error!r}"[:300], retry_at=retry)
        return Outcome(delivery.id, sent=True, provider_id=provider_id)


class Handover:
    """An event's deliveries as they are to be written (`documents`), some of them claimed by this
    instance (`taken`): sent once the write is stored, or given back when it is not."""

    def __init__(self, job: DeliveryJob, documents: list[dict[str, Any]], taken: list[Delivery]) -> None:
        self.job = job
        self.documents = documents
        self.taken = taken

    def start(self) -> None:
        """The write stored these documents as they are: send the taken ones, and wake the job for
        the others that are due."""
        batch = Batch(self.job.outcomes, len(self.taken))
        for delivery in self.taken:
            self.job.launch(delivery, batch)
        if any(doc.get("status") == "pending" for doc in self.documents):
            self.job.wake()

    def cancel(self) -> None:
        """Nothing was written, or the documents stored are an earlier write's (an event seen before,
        a write cut short and completed): the job sends what is due of them, as of any other event."""
        for delivery in self.taken:
            self.job.release(delivery.channel)
        self.job.wake()


class Batch:
    """The outcomes of the sends claimed together, written together: the last send of the batch to
    finish writes them all; one that waited OUTCOME_LINGER_SECONDS for the others writes what has
    come so far (a slow send never holds the others' outcomes for longer than that)."""

    def __init__(self, outcomes: Outcomes, size: int) -> None:
        self._outcomes = outcomes
        self._left = size
        self._finished: list[Outcome] = []
        self._complete = asyncio.Event()

    async def record(self, outcome: Outcome) -> None:
        self._finished.append(outcome)
        self._left -= 1
        if self._left <= 0:
            self._complete.set()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._complete.wait(), OUTCOME_LINGER_SECONDS)
        finished, self._finished = self._finished, []
        if finished:  # else another send of the batch took ours
            await self._outcomes.record(finished)


class Outcomes:
    """Sends' outcomes, written together: each batch queues its outcomes, and whoever finds no
    write in flight writes every queued one in one bulk write (a group commit: batches that finish
    during a write share the next one). Under load (a write ended less than OUTCOME_BUSY_SECONDS
    ago) the writer first waits OUTCOME_GATHER_SECONDS: sends handed over by single events end one
    by one, not in the job's batches. An outcome lost to a failed write leaves its claim to expire:
    the send is retried with the same idempotency key."""

    def __init__(self, store: NotificationsStore) -> None:
        self._store = store
        self._queued: list[Outcome] = []
        self._writing = asyncio.Lock()
        self._last_write = -float("inf")

    async def record(self, outcomes: list[Outcome]) -> None:
        self._queued += outcomes
        async with self._writing:
            if not self._queued:
                return  # an earlier write took ours
            if time.monotonic() - self._last_write < OUTCOME_BUSY_SECONDS:
                await asyncio.sleep(OUTCOME_GATHER_SECONDS)  # under load: gather the sends ending meanwhile
            queued, self._queued = self._queued, []
            try:
                await self._store.record_outcomes(queued)
            finally:
                self._last_write = time.monotonic()
