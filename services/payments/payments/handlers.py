"""Payments' reactions to orders' events. Calls to Midtrans happen in jobs, never here:
a consumer must not block on a remote API (it would be kicked out of its group).

The payment requests a consumer's transaction handles together are recorded with one write after
their handlers (the subscription's scope, a unit of work: one upsert command per transaction
instead of one per event, issue 11). A cancellation or a return handled in the same transaction
writes the requests before it first, so it sees every payment the events before it opened.

A payment request is state-guarded (`Subscription.state_guarded`, no inbox row; issue 11): its
payment is inserted only if the order has none, so a copy, even one arriving after the payment
moved on (linked, settled, cancelled), changes nothing. The others keep their inbox rows."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo import UpdateOne

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled, PaymentRequested, SubOrderReturned
from beli_contracts.topics import ORDERS_EVENTS
from beli_runtime.clock import utcnow
from beli_runtime.consumer import Subscription
from beli_runtime.inbox import OpenUnits
from beli_runtime.mongo import Session
from payments.domain import PaymentStatus
from payments.late import LatePayments
from payments.store import PaymentsStore
from payments.uncollected import UncollectedReturns

# The jobs these handlers create work for, by the event types that create it; the runtime wakes a
# job after those events only (main.py). They live next to the handlers so that a handler that
# starts creating work for a job is declared with it: a job nobody wakes loses nothing (its
# polling finds the work) but leaves it waiting up to JOB_IDLE_MAX_SECONDS.
OPENS_LINKS = frozenset({PaymentRequested.TYPE})  # store.open: a payment OPENING
CANCELS_AT_MIDTRANS = frozenset({OrderCancelled.TYPE})  # cancel_requested on an AWAITING payment
RETURNS_LATE = frozenset({OrderCancelled.TYPE})  # late.begin for a payment settled already
REFUNDS_UNCOLLECTED = frozenset({SubOrderReturned.TYPE})  # uncollected.begin


class PaymentsHandlers:
    def __init__(self, store: PaymentsStore, late: LatePayments, uncollected: UncollectedReturns) -> None:
        self.store = store
        self.late = late
        self.uncollected = uncollected
        self._openings: OpenUnits[list[UpdateOne]] = OpenUnits()  # by transaction: payments to open at its end

    def subscription(self) -> Subscription:
        return Subscription(
            topics=(ORDERS_EVENTS,),
            handlers={
                PaymentRequested.TYPE: self.on_payment_requested,
                OrderCancelled.TYPE: self.on_order_cancelled,
                SubOrderReturned.TYPE: self.on_sub_order_returned,
            },
            state_guarded=frozenset({PaymentRequested.TYPE}),
            scope=self.opening_together,
        )

    @asynccontextmanager
    async def opening_together(self, session: Session, payloads: Sequence[Any]) -> AsyncIterator[None]:
        """Around the handlers of one transaction: the payments they open are written after them."""
        async with self._openings.opened(session, [], lambda: self._open_pending(session)):
            yield

    async def _open_pending(self, session: Session) -> None:
        pending = self._openings.of(session)
        if pending:
            await self.store.open_all(session, pending)
            pending.clear()

    async def on_payment_requested(self, envelope: Envelope, event: PaymentRequested, session: Session) -> None:
        pending = self._openings.of(session)
        if pending is None:  # outside a consumer's transaction (a test, a replay by hand)
            await self.store.open(session, event)
        else:
            pending.append(self.store.opening(event))

    async def on_order_cancelled(self, envelope: Envelope, event: OrderCancelled, session: Session) -> None:
        await self._open_pending(session)
        # Remembered whatever the payment's state: money that arrives from now on goes back.
        await self.store.set_fields(event.order_id, {"order_cancelled": {"reason": event.reason, "at": utcnow()}}, session=session)
        # Not opened yet: it never will be. Opened: the cancel job asks Midtrans to cancel it.
        if await self.store.move(
            session,
            event.order_id,
            PaymentStatus.FAILED,
            frozenset({PaymentStatus.OPENING}),
            {"failure_reason": f"order cancelled ({event.reason}) before the link was opened"},
        ):
            return
        payment = await self.store.get(event.order_id, session)
        if payment is None:
            return
        if payment.status == PaymentStatus.AWAITING.value and payment.payment_method == "cash":
            # Nothing at Midtrans to cancel: the till simply takes no cash for it any more.
            reason = {"failure_reason": f"order cancelled ({event.reason}) before the cash was taken"}
            await self.store.move(session, event.order_id, PaymentStatus.FAILED, frozenset({PaymentStatus.AWAITING}), reason)
        elif payment.status == PaymentStatus.AWAITING.value:
            await self.store.set_fields(event.order_id, {"cancel_requested": True}, session=session)
        elif payment.status == PaymentStatus.SETTLED.value:
            # Settled before this cancellation reached us (or its units lapsed after payment):
            # the order will not be delivered, so the money goes back.
            await self.late.begin(session, event.order_id, f"order cancelled ({event.reason})")

    async def on_sub_order_returned(self, envelope: Envelope, event: SubOrderReturned, session: Session) -> None:
        await self._open_pending(session)
        await self.uncollected.begin(session, event)
