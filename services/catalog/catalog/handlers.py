"""Catalog's reactions to the checkout saga."""

from datetime import timedelta

from beli_contracts import Envelope
from beli_contracts.catalog import (
    ReservationCommitted,
    ReservationLapsed,
    ReservationReleased,
    StockRejected,
    StockReserved,
)
from beli_contracts.orders import OrderCancelled, OrderPaid, OrderPlaced
from beli_contracts.outlets import outlet_of_channel
from beli_contracts.topics import ORDERS_EVENTS
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from catalog.domain import HoldLimits
from catalog.store import CatalogStore


class CatalogHandlers:
    def __init__(self, store: CatalogStore, outbox: Outbox, unpaid_hold: timedelta, limits: HoldLimits) -> None:
        self.store = store
        self.outbox = outbox
        self.unpaid_hold = unpaid_hold
        self.limits = limits

    def subscription(self) -> Subscription:
        return Subscription(
            topics=(ORDERS_EVENTS,),
            handlers={
                OrderPlaced.TYPE: self.on_order_placed,
                OrderPaid.TYPE: self.on_order_paid,
                OrderCancelled.TYPE: self.on_order_cancelled,
            },
        )

    async def on_order_placed(self, envelope: Envelope, event: OrderPlaced, session: Session) -> None:
        outlet_id = outlet_of_channel(event.channel)
        # A sale at the till is held by the outlet, so it never counts toward the buyer's online hold limits.
        holder = event.channel if outlet_id else event.customer.account_id or event.customer.email.strip().lower()
        reservation = await self.store.reserve(session, event.order_id, event.items, self.unpaid_hold, holder, self.limits, outlet_id)
        if reservation is None:
            return
        plan = reservation.plan
        reply: StockReserved | StockRejected
        if plan.outcome == "reserved":
            reply = StockReserved(order_id=event.order_id, lines=plan.lines, expires_at=reservation.expires_at)
        else:
            reply = StockRejected(order_id=event.order_id, lines=plan.rejected)
        await self.outbox.add(session, reply, key=event.order_id, correlation_id=envelope.correlation_id)
        for alert in reservation.low_stock:
            await self.outbox.add(session, alert, key=alert.product_id, correlation_id=envelope.correlation_id)

    async def on_order_paid(self, envelope: Envelope, event: OrderPaid, session: Session) -> None:
        outcome = await self.store.commit(session, event.order_id)
        reply: ReservationCommitted | ReservationLapsed | None = None
        if outcome in ("committed", "recommitted"):
            reply = ReservationCommitted(order_id=event.order_id)
        elif outcome == "lapsed":
            # Never silent: orders cancels the paid order and payments returns the money.
            reply = ReservationLapsed(order_id=event.order_id, reason="paid after the hold ended; the units were sold meanwhile")
        if reply is not None:
            await self.outbox.add(session, reply, key=event.order_id, correlation_id=envelope.correlation_id)

    async def on_order_cancelled(self, envelope: Envelope, event: OrderCancelled, session: Session) -> None:
        await self.release(session, event.order_id, event.reason, envelope.correlation_id)

    async def release(self, session: Session, order_id: str, reason: str, correlation_id: str | None = None) -> None:
        if await self.store.release(session, order_id, reason):
            await self.outbox.add(
                session, ReservationReleased(order_id=order_id, reason=reason), key=order_id, correlation_id=correlation_id
            )
