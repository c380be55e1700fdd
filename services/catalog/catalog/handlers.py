"""Catalog's reactions to the checkout saga.

The consumer is told which stock documents each event's handler writes (`writes`): reservations
and commits of the same products then take turns in this process instead of conflicting on those
documents and retrying their transactions; other orders' still overlap. A cancellation does not
say its products (the reservation knows them): its rare conflicts are retried by the transaction.

The handlers of one transaction share their stock work (`scope`, store.batch): the products they
reserve and sell are read once before them and written once after them, and their reservations
written with them (stock_work.py).

order_placed and order_paid are state-guarded (`Subscription.state_guarded`, no inbox row; issue
11): an order's reservation is its state. A copy of order_placed finds the reservation there
(held, committed or released: it is inserted only if missing) and reserves and answers nothing; a
copy of order_paid finds it no longer held as paid (committed, lapsed, or taken again) and sells
and answers nothing. In a batch, either copy makes the reservations' bulk write insert or match
fewer than it should: the batch is written again one event at a time, where each learns that from
its own write first. A cancellation keeps its inbox row.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

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
from beli_contracts.values import OrderItem, PricedLine
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from catalog.domain import HoldLimits
from catalog.stock_work import Wanted
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
            writes={
                OrderPlaced.TYPE: lambda _, event: [*stock_keys(event.channel, event.items), f"holder:{holder_of(event)}"],
                OrderPaid.TYPE: lambda _, event: stock_keys(event.channel, event.lines),
            },
            state_guarded=frozenset({OrderPlaced.TYPE, OrderPaid.TYPE}),
            scope=lambda session, payloads: self.store.batch(session, wanted(payloads)),
        )

    async def on_order_placed(self, envelope: Envelope, event: OrderPlaced, session: Session) -> None:
        outlet_id = outlet_of_channel(event.channel)
        reservation = await self.store.reserve(
            session, event.order_id, event.items, self.unpaid_hold, holder_of(event), self.limits, outlet_id
        )
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
        outcome = await self.store.commit(session, event.order_id, event.lines, outlet_of_channel(event.channel))
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


def wanted(payloads: Sequence[Any]) -> Wanted:
    """What one transaction's handlers read of the products and holds, from their events (a
    cancellation's products are known from its reservation only: read when it is released)."""
    reserving: list[str] = []
    selling: list[str] = []
    holders: list[str] = []
    for event in payloads:
        if isinstance(event, OrderPlaced):
            reserving += [item.product_id for item in event.items]
            if not outlet_of_channel(event.channel):
                holders.append(holder_of(event))
        elif isinstance(event, OrderPaid) and not outlet_of_channel(event.channel):
            selling += [line.product_id for line in event.lines]
    return Wanted(reserving=reserving, selling=selling, holders=holders, events=len(payloads))


def holder_of(event: OrderPlaced) -> str:
    """Whose hold limits the order counts toward. A sale at the till is held by the outlet, so it
    never counts toward the buyer's online hold limits."""
    if outlet_of_channel(event.channel):
        return event.channel
    return event.customer.account_id or event.customer.email.strip().lower()


def stock_keys(channel: str, lines: Iterable[OrderItem | PricedLine]) -> list[str]:
    """The stock documents an order's lines move: the online product's, or the outlet's shelf's."""
    outlet_id = outlet_of_channel(channel)
    return [f"{outlet_id}|{line.product_id}" if outlet_id else line.product_id for line in lines]
