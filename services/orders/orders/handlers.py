"""Orders' part of the checkout saga: it decides each order's state from the others' events.

The saga's events are state-guarded (`Subscription.state_guarded`, no inbox row; issue 11): each
moves an order only from the states before it (PENDING -> AWAITING_PAYMENT, AWAITING_PAYMENT ->
PAID, unpaid -> CANCELLED or REJECTED) and an order never goes back, so a redelivered copy, even
one arriving after newer events, finds the order moved on and writes and publishes nothing. The
payment link is written only while the order has none (a payment opens one link). The others
keep their inbox rows: a lapsed reservation's copy would log a false error, and a returned
payment's would rewrite its annotation."""

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from beli_contracts import Envelope
from beli_contracts.catalog import ReservationLapsed, StockRejected, StockReserved
from beli_contracts.orders import OrderCancelled, OrderPaid, OrderRejected, PaymentRequested
from beli_contracts.outlets import OutletChanged
from beli_contracts.payments import LevyReversed, PaymentFailed, PaymentLinkCreated, PaymentReturned, PaymentSettled
from beli_contracts.topics import CATALOG_EVENTS, PAYMENTS_EVENTS
from beli_runtime.consumer import Subscription
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from orders.documents import OrderDocument, SubOrder
from orders.domain import (
    UNPAID,
    OrderStatus,
    SubOrderStatus,
    cancel_all,
    fulfilment_index,
    group_by_seller,
    listing_key,
    order_total,
    settle,
    with_deliveries,
)
from orders.outlets import OutletDirectory
from orders.store import SWEEP_FIELDS, OrdersStore, priced

log = get_logger(__name__)


class OrdersHandlers:
    def __init__(self, store: OrdersStore, outbox: Outbox, outlets: OutletDirectory) -> None:
        self.store = store
        self.outbox = outbox
        self.outlets = outlets
        # An in-store sale's goods leave the till with the buyer: set by main to complete its sub-orders once paid.
        self.at_till: Callable[[Session, OrderDocument], Awaitable[Any]] | None = None

    def subscription(self) -> Subscription:
        return Subscription(
            topics=(CATALOG_EVENTS, PAYMENTS_EVENTS),
            handlers={
                StockReserved.TYPE: self.on_stock_reserved,
                StockRejected.TYPE: self.on_stock_rejected,
                PaymentLinkCreated.TYPE: self.on_payment_link_created,
                PaymentSettled.TYPE: self.on_payment_settled,
                PaymentFailed.TYPE: self.on_payment_failed,
                ReservationLapsed.TYPE: self.on_reservation_lapsed,
                PaymentReturned.TYPE: self.on_payment_returned,
                LevyReversed.TYPE: self.on_levy_reversed,
                OutletChanged.TYPE: self.outlets.on_outlet_changed,
            },
            state_guarded=frozenset(
                {StockReserved.TYPE, StockRejected.TYPE, PaymentLinkCreated.TYPE, PaymentSettled.TYPE, PaymentFailed.TYPE}
            ),
            scope=self.unit_of_work,
        )

    def unit_of_work(self, session: Session, payloads: Sequence[object]) -> AbstractAsyncContextManager[None]:
        """The orders of the transaction's events, read together before their handlers and
        written together after them (OrdersStore.unit_of_work)."""
        return self.store.unit_of_work(session, (order_id for p in payloads if isinstance(order_id := getattr(p, "order_id", None), str)))

    async def on_stock_reserved(self, envelope: Envelope, event: StockReserved, session: Session) -> None:
        # One deadline: the hold's own expiry, never a second clock started here.
        pay_before = event.expires_at
        total = order_total(event.lines)
        current = await self.store.get(event.order_id, session)
        if current is None:
            log.warning("orders.reserved_unknown_order", order_id=event.order_id)
            return
        order = await self.store.move(
            session,
            event.order_id,
            OrderStatus.AWAITING_PAYMENT,
            {
                "lines": priced(event.lines),
                "total": total,
                "pay_before": pay_before,
                **_fulfilment_changes(current, group_by_seller(event.lines)),
            },
        )
        if order is None:
            return  # cancelled by the shopper meanwhile: catalog releases on that event
        await self.outbox.add(
            session,
            PaymentRequested(
                order_id=event.order_id,
                customer=order.customer,
                lines=event.lines,
                gross_amount=total,
                pay_before=pay_before,
                channel=order.channel,
                payment_method=order.payment_method,
            ),
            key=event.order_id,
            correlation_id=envelope.correlation_id,
        )

    async def on_stock_rejected(self, envelope: Envelope, event: StockRejected, session: Session) -> None:
        reasons = "; ".join(
            f"{line.product_id}: {line.reason} (requested {line.requested}, available {line.available})" for line in event.lines
        )
        order = await self.store.move(
            session,
            event.order_id,
            OrderStatus.REJECTED,
            {"status_reason": reasons, "rejected_lines": [line.model_dump() for line in event.lines]},
        )
        if order is not None:
            await self.outbox.add(
                session,
                OrderRejected(order_id=event.order_id, customer=order.customer, reason=reasons),
                key=event.order_id,
                correlation_id=envelope.correlation_id,
            )

    async def on_payment_link_created(self, envelope: Envelope, event: PaymentLinkCreated, session: Session) -> None:
        await self.store.annotate(
            session,
            event.order_id,
            {"payment": {"token": event.token, "redirect_url": event.redirect_url, "qr_string": event.qr_string}},
            in_states=[OrderStatus.AWAITING_PAYMENT.value],
            # One link per payment: a copy of its event, or an old one, never replaces the link shown.
            unless_set="payment",
        )

    async def on_payment_settled(self, envelope: Envelope, event: PaymentSettled, session: Session) -> None:
        current = await self.store.get(event.order_id, session)
        changes = {"levy_total": event.levy_total, "paid_at": event.settled_at}
        if current is not None:
            changes |= _fulfilment_changes(current, settle(current.sub_orders, event.lines))
        order = await self.store.move_read(session, current, OrderStatus.PAID, changes) if current is not None else None
        if order is None:
            if current is not None and current.paid_at is not None:
                return  # a copy of the settlement that paid it (a redelivery): done already
            # Cancelled before the money arrived: payments returns it (it saw the cancellation too).
            log.warning("orders.paid_after_cancel", order_id=event.order_id, gross=event.gross_amount)
            return
        await self.outbox.add(
            session,
            OrderPaid(
                order_id=event.order_id,
                customer=order.customer,
                gross_amount=event.gross_amount,
                lines=event.lines,
                levy_total=event.levy_total,
                payment_type=event.payment_type,
                settled_at=event.settled_at,
                channel=order.channel,
            ),
            key=event.order_id,
            correlation_id=envelope.correlation_id,
        )
        if order.outlet_id and self.at_till is not None:
            await self.at_till(session, order)

    async def on_payment_failed(self, envelope: Envelope, event: PaymentFailed, session: Session) -> None:
        reason = (
            "payment_expired"
            if event.transaction_status == "expire"
            else ("payment_setup_failed" if event.transaction_status == "not_created" else "payment_failed")
        )
        await self.cancel(session, event.order_id, reason, f"{event.transaction_status}: {event.reason}", envelope.correlation_id)

    async def cancel(
        self, session: Session, order_id: str, reason: str, detail: str, correlation_id: str | None = None
    ) -> OrderDocument | None:
        current = await self.store.get(order_id, session)
        changes: dict[str, Any] = {"status_reason": detail, "cancel_reason": reason}
        if current is not None and current.sub_orders:
            changes |= _fulfilment_changes(current, cancel_all(current.sub_orders))
        order = await self.store.move(session, order_id, OrderStatus.CANCELLED, changes, from_states=UNPAID)
        if order is not None:
            await self.outbox.add(
                session,
                OrderCancelled(order_id=order_id, customer=order.customer, reason=reason),
                key=order_id,
                correlation_id=correlation_id,
            )
        return order

    async def on_reservation_lapsed(self, envelope: Envelope, event: ReservationLapsed, session: Session) -> None:
        """Paid, but the units were sold to someone else after the hold ended: nothing can be
        shipped. The order is cancelled; payments returns the money on that event."""
        current = await self.store.get(event.order_id, session)
        if current is None or any(sub.status != SubOrderStatus.PAID.value for sub in current.sub_orders):
            log.error("orders.lapsed_not_cancellable", order_id=event.order_id, status=current and current.status)
            return
        cancelled = [sub.model_copy(update={"status": SubOrderStatus.CANCELLED.value}) for sub in current.sub_orders]
        changes = {"status_reason": event.reason, "cancel_reason": "stock_unavailable", **_fulfilment_changes(current, cancelled)}
        order = await self.store.move(session, event.order_id, OrderStatus.CANCELLED, changes, from_states=[OrderStatus.PAID.value])
        if order is not None:
            await self.outbox.add(
                session,
                OrderCancelled(
                    order_id=event.order_id,
                    customer=order.customer,
                    reason="stock_unavailable",
                    sellers=[sub.seller for sub in current.sub_orders],
                ),
                key=event.order_id,
                correlation_id=envelope.correlation_id,
            )

    async def on_payment_returned(self, envelope: Envelope, event: PaymentReturned, session: Session) -> None:
        returned = {"amount": event.gross_amount, "refund_key": event.refund_key, "returned_at": event.returned_at}
        await self.store.annotate(session, event.order_id, {"payment_returned": returned}, in_states=[OrderStatus.CANCELLED.value])

    async def on_levy_reversed(self, envelope: Envelope, event: LevyReversed, session: Session) -> None:
        """A refund went through (the levy of its lines reversed): the order says how much was
        refunded, whatever its status (a cash sale returned at the till stays COMPLETED: the
        sale happened). Counted once per refund, by its first reversal entry."""
        refund = {"entry_id": event.entries[0].entry_id, "amount": event.refund_amount, "at": envelope.time}
        await self.store.record_refund(session, event.order_id, refund)


def _fulfilment_changes(order: OrderDocument, sub_orders: list[SubOrder]) -> dict[str, Any]:
    """Sub-orders (with the deliveries chosen at checkout) and their index fields, for a
    transition of the whole order (nothing is in transit or at an outlet before the order is
    paid, so the sweeps' fields stay unset)."""
    sub_orders = with_deliveries(sub_orders, order.deliveries)
    index = fulfilment_index(sub_orders)
    for name in SWEEP_FIELDS:
        index.pop(name)
    stored = [sub.to_document() for sub in sub_orders]
    return {"sub_orders": stored, **index, "listing_key": listing_key(order.created_at, order.id)}
