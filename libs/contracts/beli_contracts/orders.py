"""Events produced by the orders service (topic `orders.events`)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import ORDERS_EVENTS
from beli_contracts.values import Customer, OrderItem, PricedLine, Rupiah


class _OrdersEvent(EventPayload):
    TOPIC = ORDERS_EVENTS


class OrderPlaced(_OrdersEvent):
    TYPE = "orders.order_placed"
    order_id: str
    customer: Customer
    items: list[OrderItem] = Field(min_length=1)
    placed_at: datetime


class PaymentRequested(_OrdersEvent):
    """The order is priced and stock is held: payments should open a Midtrans transaction."""

    TYPE = "orders.payment_requested"
    order_id: str
    customer: Customer
    lines: list[PricedLine] = Field(min_length=1)
    gross_amount: Rupiah = Field(gt=0)
    pay_before: datetime


class OrderRejected(_OrdersEvent):
    TYPE = "orders.order_rejected"
    order_id: str
    customer: Customer
    reason: str


class OrderPaid(_OrdersEvent):
    TYPE = "orders.order_paid"
    order_id: str
    customer: Customer
    gross_amount: Rupiah


CancelReason = Literal["shopper_cancelled", "payment_failed", "payment_expired", "payment_setup_failed"]


class OrderCancelled(_OrdersEvent):
    """The order will not be paid: held stock must be released, an open payment cancelled."""

    TYPE = "orders.order_cancelled"
    order_id: str
    customer: Customer
    reason: CancelReason
