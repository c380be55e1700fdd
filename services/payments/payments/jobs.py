"""Payments' background work against Midtrans: open Snap links, act on notifications, cancel.

Each step records its outcome and the event it implies in one transaction; a failed call to
Midtrans is retried later with backoff, never inside a Kafka consumer. Each payment is handled on
its own: one that fails in an unexpected way is retried later and never holds back the others.
A step works on its payments concurrently, as many at once as the gateway has threads, so their
calls to Midtrans overlap (their transactions take turns under the job's lease); the links Midtrans
opens are recorded in batches (links.py), and the payments it confirms settle in batches, one
transaction and one ledger append each (settlement.py); both through group_commit.py.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar

from beli_contracts.payments import PaymentFailed
from beli_runtime import tracing
from beli_runtime.clock import as_utc, utcnow
from beli_runtime.group_commit import GroupCommit
from beli_runtime.leases import ensure_held
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from beli_runtime.retry import Backoff
from beli_runtime.service import ServiceRuntime
from payments.documents import MidtransNotification, PaymentDocument
from payments.domain import (
    MOVES,
    Outcome,
    PaymentStatus,
    classify,
    midtrans_order,
    rupiah_from_midtrans,
    snap_expiry,
    snap_minutes,
)
from payments.gateway import MidtransGateway, MidtransRefused, MidtransUnavailable
from payments.late import LatePayments
from payments.ledger import LevyLedger
from payments.links import LinkRecords, OpenedLink
from payments.qris import qris_link, qris_request
from payments.receipts import NotificationReceipts
from payments.refunds import NOT_THE_ITEMS_FAULT, Refunds, not_the_items_fault
from payments.rules import LevyRules
from payments.settings import PaymentsSettings
from payments.settlement import Confirmed, Settlements
from payments.store import NOTIFICATIONS_AT_ONCE, PAYMENTS_AT_ONCE, PaymentsStore

log = get_logger(__name__)
Item = TypeVar("Item")
LinkQueue = GroupCommit[OpenedLink, bool]
SettlementQueue = GroupCommit[Confirmed, str]

# After the n-th failed call to Midtrans: about 2^n seconds (with jitter), at most 5 minutes.
MIDTRANS_BACKOFF = Backoff(2.0, 300.0)
# The running item's way to give its slot of the step back early (_slot, _hand_over).
_release_slot: ContextVar[Callable[[], None] | None] = ContextVar("payments_release_slot", default=None)


def backoff(attempts: int) -> timedelta:
    return MIDTRANS_BACKOFF.delay(attempts)


def already_used(error: MidtransRefused) -> bool:
    """Snap's answer to a second create for the same order_id (Indonesian or English wording)."""
    text = str(error).lower()
    return error.status in (400, 406, 409) and any(word in text for word in ("sudah digunakan", "already", "utilized", "taken"))


class PaymentJobs:
    def __init__(
        self,
        runtime: ServiceRuntime,
        store: PaymentsStore,
        ledger: LevyLedger,
        gateway: MidtransGateway,
        settings: PaymentsSettings,
        rules: LevyRules,
        refunds: Refunds,
        late: LatePayments,
        receipts: NotificationReceipts,
    ) -> None:
        self.late = late
        self.receipts = receipts
        self.runtime = runtime
        self.rules = rules
        self.refunds = refunds
        self.store = store
        self.ledger = ledger
        self.gateway = gateway
        self.settings = settings
        self.settlements = Settlements(runtime, store, ledger, rules, late)
        self.links = LinkRecords(runtime, store)
        self._linger = settings.step_linger_seconds

    # --- opening Snap transactions ---------------------------------------------------------

    async def open_links(self) -> bool:
        due = await self.store.due_to_open(utcnow())
        # The links Midtrans opens are recorded in shared transactions as they come (links.py).
        queue: LinkQueue = GroupCommit(self.links.record, "recording links", not_the_items_fault=not_the_items_fault, linger=self._linger)
        await self._each(due, lambda payment: self._isolated("open_link", payment, self._open_link(payment, queue)), queue)
        return len(due) >= PAYMENTS_AT_ONCE  # a full batch: more may be due now

    async def _each(
        self, items: Sequence[Item], work: Callable[[Item], Awaitable[None]], queue: GroupCommit[Any, Any] | None = None
    ) -> None:
        """`work` for every item, at most the gateway's bound at once. Every item runs to its end
        (cancelling one mid-call could break PyMongo's client, see leases.holding); then the first
        failure that is not the item's fault stops the step, as it would have one by one. The
        items are announced to the step's `queue`, whose writer lingers for them (settings)."""
        slots = asyncio.Semaphore(self.gateway.concurrency)

        async def one(item: Item) -> None:
            async with _slot(slots):
                await work(item)

        outcomes = await asyncio.gather(
            *(queue.expected(one(item)) if queue is not None else one(item) for item in items), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _isolated(
        self, step: str, item: PaymentDocument | MidtransNotification, work: Awaitable[Any], *, notification: bool = False
    ) -> None:
        """Run one item's work; if it fails unexpectedly, log it and retry that item later with
        backoff, so that it never holds back the rest of the batch."""
        try:
            await work
        except NOT_THE_ITEMS_FAULT:
            raise  # not this item's fault: the whole step stops and runs again later
        except Exception as error:
            order_id = item.order_id if isinstance(item, MidtransNotification) else item.id
            log.exception(f"payments.{step}_crashed", order_id=order_id)
            attempts, reason = item.attempts + 1, f"unexpected: {error!r}"[:300]
            if notification:
                await self.store.notification_retry(order_id, attempts, backoff(attempts), reason)
            else:
                await self.store.retry_later(order_id, attempts, backoff(attempts), reason)

    async def _open_link(self, payment: PaymentDocument, queue: LinkQueue) -> None:
        with tracing.resumed(payment.trace, "open payment link", order_id=payment.id):
            await self._open_link_traced(payment, queue)

    async def _open_link_traced(self, payment: PaymentDocument, queue: LinkQueue) -> None:
        order_id = payment.id
        now = utcnow()
        minutes = snap_minutes(now, as_utc(payment.pay_before), self.settings.snap_expiry_margin_seconds)
        if minutes < 1:
            await self._fail(order_id, "expire", "the payment window passed before Midtrans could open the transaction")
            return
        ensure_held()  # never open a Snap transaction under a lease another instance took over
        try:
            if payment.payment_method == "qris":
                answer = qris_link(await self.gateway.charge(qris_request(payment, now, minutes)))
            else:
                answer = await self.gateway.create_transaction(snap_request(payment, now, minutes, self.settings.snap_finish_url))
        except MidtransUnavailable as error:
            attempts = payment.attempts + 1
            if attempts >= self.settings.link_retry_limit:
                await self._fail(order_id, "not_created", f"Midtrans unavailable after {attempts} attempts: {error}")
            else:
                log.warning("payments.snap_retry", order_id=order_id, attempts=attempts, error=str(error))
                await self.store.retry_later(order_id, attempts, backoff(attempts), str(error))
            return
        except MidtransRefused as error:
            if already_used(error):
                # Another instance created it, or our own earlier create timed out after Midtrans
                # had created it: the transaction exists, so look it up instead of failing it.
                await self._adopt(payment, str(error))
                return
            log.error("payments.snap_refused", order_id=order_id, error=str(error))
            await self._fail(order_id, "not_created", f"Midtrans refused the transaction: {error}")
            return

        await _hand_over(queue, OpenedLink(payment, answer, tracing.carrier() or None))

    async def _adopt(self, payment: PaymentDocument, refusal: str) -> None:
        """Midtrans already holds a transaction for this order: follow what it says about it."""
        order_id = payment.id
        attempts = payment.attempts + 1
        ensure_held()
        try:
            status = await self.gateway.status(order_id)
        except MidtransUnavailable as error:
            await self.store.retry_later(order_id, attempts, backoff(attempts), f"{refusal}; status check failed: {error}")
            return
        except MidtransRefused as error:
            if error.status != 404:
                raise
            # Created, but no payment method chosen yet (the status API knows it only after that).
            # If another instance is recording its link, the payment leaves OPENING meanwhile; if
            # the link was lost with a timed-out answer, nobody can pay it and the payment expires
            # at its deadline like any unpaid one. Either way it is not a failed payment now.
            log.warning("payments.snap_already_exists", order_id=order_id, attempts=attempts)
            await self.store.retry_later(order_id, attempts, backoff(attempts), f"{refusal}; Midtrans holds it, not paid yet")
            return
        outcome = await self.apply_status(order_id, status)
        log.warning("payments.snap_adopted", order_id=order_id, midtrans_status=status.get("transaction_status"), outcome=outcome)
        now_stored = await self.store.get(order_id)
        if now_stored is not None and now_stored.status == PaymentStatus.OPENING.value:
            await self.store.retry_later(
                order_id, attempts, backoff(attempts), f"{refusal}; Midtrans says {status.get('transaction_status')}"
            )

    async def _fail(self, order_id: str, transaction_status: str, reason: str) -> None:
        async def work(session: Session) -> None:
            failed = await self.store.move(
                session,
                order_id,
                PaymentStatus.FAILED,
                frozenset({PaymentStatus.OPENING, PaymentStatus.AWAITING}),
                {"failure_reason": reason, "midtrans_status": transaction_status},
            )
            if failed is not None:
                await self.runtime.outbox.add(
                    session, PaymentFailed(order_id=order_id, transaction_status=transaction_status, reason=reason), key=order_id
                )

        await self.runtime.write(work)

    # --- notifications -----------------------------------------------------------------------

    async def process_notifications(self) -> bool:
        due = await self.receipts.due()  # handed over by the webhook, or read (receipts.py)
        # One status check answers every notification of an order this step took (marked by id: one
        # stored after the check is checked by a later step, never taken as answered).
        of_order: dict[str, list[MidtransNotification]] = {}
        for notification in due:
            of_order.setdefault(notification.order_id, []).append(notification)
        # The payments confirmed settle in shared transactions (one ledger append each) as they
        # come. As many orders at once as the gateway has threads, no more: all of a step's status
        # checks at once would queue the Snap links being opened behind them.
        queue: SettlementQueue = GroupCommit(
            self.settlements.settle, "settlement", not_the_items_fault=not_the_items_fault, linger=self._linger
        )
        await self._each(
            list(of_order.values()),
            lambda notices: self._isolated("notification", notices[0], self._confirm(notices, queue), notification=True),
            queue,
        )
        return len(due) >= NOTIFICATIONS_AT_ONCE

    async def _confirm(self, notices: list[MidtransNotification], queue: SettlementQueue) -> None:
        # The order's trace goes on here; the notification's own request is linked to it.
        first = notices[0]
        order_trace = await self.store.trace_of(first.order_id) if tracing.enabled() else None
        with tracing.resumed(order_trace, "confirm payment", link=first.trace, order_id=first.order_id):
            await self._confirm_traced(first, tuple(notice.id for notice in notices), queue)

    async def _confirm_traced(self, notification: MidtransNotification, ids: tuple[str, ...], queue: SettlementQueue) -> None:
        order_id = notification.order_id
        ensure_held()
        try:
            # Notifications may be forged, repeated or stale: act only on what Midtrans says now.
            status = await self.gateway.status(order_id)
        except MidtransUnavailable as error:
            attempts = notification.attempts + 1
            await self.store.notification_retry(order_id, attempts, backoff(attempts), str(error))
            return
        except MidtransRefused as error:
            await self.store.notifications_done({key: f"midtrans refused status check: {error}" for key in ids})
            return
        confirmed = paid(order_id, status, notifications=ids)
        if confirmed is not None:
            await _hand_over(queue, confirmed)  # marks the notifications done with the batch
            return
        outcome = await self.apply_status(order_id, status)
        await self.store.notifications_done(dict.fromkeys(ids, outcome))

    async def apply_status(self, order_id: str, status: dict[str, Any]) -> str:
        """Bring our payment in line with Midtrans's status; returns what was done, for the record."""
        confirmed = paid(order_id, status)
        if confirmed is not None:
            (settled,) = await self.settlements.settle([confirmed])
            return settled
        payment = await self.store.get(order_id)
        if payment is None:
            return "ignored: not a Beli NTT payment"
        outcome = classify(str(status.get("transaction_status")), status.get("fraud_status"))
        if outcome not in MOVES and outcome is not Outcome.REFUNDED:
            return f"no change: {status.get('transaction_status')}"
        gross = rupiah_from_midtrans(status.get("gross_amount", "0"))
        if gross != payment.gross_amount:
            log.error("payments.amount_mismatch", order_id=order_id, midtrans=gross, ours=payment.gross_amount)
            return f"refused: Midtrans gross {gross} differs from {payment.gross_amount}"
        if outcome is Outcome.REFUNDED:
            # Completes refunds by their refund_key, so the API path and this one never both reverse.
            return await self.refunds.on_midtrans_refunds(order_id, status)
        target, sources = MOVES[outcome]

        async def work(session: Session) -> str:
            moved = await self.store.move(
                session,
                order_id,
                target,
                sources,
                {"midtrans_status": status["transaction_status"], "failure_reason": status.get("status_message", "")},
            )
            if moved is None:
                return f"stale: {status['transaction_status']} while {payment.status}"
            await self.runtime.outbox.add(
                session,
                PaymentFailed(
                    order_id=order_id, transaction_status=status["transaction_status"], reason=str(status.get("status_message", ""))
                ),
                key=order_id,
            )
            return f"failed: {status['transaction_status']}"

        return await self.runtime.write(work)

    async def settle_at_till(self, payment: PaymentDocument, status: dict[str, Any]) -> str:
        """Cash taken at an outlet's till: settled and levied exactly like a confirmed Midtrans payment."""
        (outcome,) = await self.settlements.settle([Confirmed(payment.id, status, frozenset({PaymentStatus.AWAITING}))])
        return outcome

    # --- cancellations -----------------------------------------------------------------------

    async def cancel_requested(self) -> bool:
        due = await self.store.cancellations_due()
        await self._each(due, lambda payment: self._isolated("cancel", payment, self._cancel(payment)))
        return len(due) >= PAYMENTS_AT_ONCE

    async def _cancel(self, payment: PaymentDocument) -> None:
        order_id = payment.id
        ensure_held()
        try:
            answer = await self.gateway.cancel(order_id)
        except MidtransUnavailable as error:
            attempts = payment.attempts + 1
            await self.store.retry_later(order_id, attempts, backoff(attempts), str(error))
            return
        except MidtransRefused as error:
            if error.status == 404:
                # No payment method chosen yet, so Midtrans has nothing to cancel; the Snap
                # link expires on its own and we will not accept it any more.
                await self._fail(order_id, "cancel", "cancelled before a payment method was chosen")
            else:
                # 412: already settled. The settlement notification will record the money.
                await self.store.set_fields(order_id, {"cancel_requested": False, "last_error": str(error)})
            return
        await self.apply_status(order_id, answer | {"gross_amount": answer.get("gross_amount", payment.gross_amount)})


@asynccontextmanager
async def _slot(slots: asyncio.Semaphore) -> AsyncIterator[None]:
    """One of the step's slots for an item's calls to Midtrans, until it ends or hands over."""
    await slots.acquire()
    held = True

    def release() -> None:
        nonlocal held
        if held:
            held = False
            slots.release()

    reset = _release_slot.set(release)
    try:
        yield
    finally:
        _release_slot.reset(reset)
        release()


async def _hand_over(queue: GroupCommit[Item, Any], item: Item) -> Any:
    """Submit an item's write to the step's batch. Its calls to Midtrans are done: its slot goes to
    the next item while it waits, or the batch, lingering for the step's items, would wait for
    items that cannot start."""
    release = _release_slot.get()
    if release is not None:
        release()
    return await queue.submit(item)


def paid(order_id: str, status: dict[str, Any], *, notifications: tuple[str, ...] = ()) -> Confirmed | None:
    """The settlement Midtrans's status asks for, if it says the money is there (None otherwise)."""
    if classify(str(status.get("transaction_status")), status.get("fraud_status")) is not Outcome.PAID:
        return None
    _, sources = MOVES[Outcome.PAID]
    gross = rupiah_from_midtrans(status.get("gross_amount", "0"))
    return Confirmed(order_id, status, sources, gross=gross, notifications=notifications, trace=tracing.carrier() or None)


def snap_request(payment: PaymentDocument, now: datetime, minutes: int, finish_url: str = "") -> dict[str, Any]:
    request: dict[str, Any] = midtrans_order(payment) | {"expiry": snap_expiry(now, minutes)}
    if finish_url:
        # Snap sends the shopper back here after paying (the web app's order page).
        request["callbacks"] = {"finish": finish_url.replace("{order_id}", payment.id)}
    return request
