"""Events produced by the orders service (topic `orders.events`)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import ORDERS_EVENTS
from beli_contracts.values import Customer, OrderItem, PickupOutlet, PricedLine, ReturnedLine, Rupiah, SellerContact, SettledLine


class _OrdersEvent(EventPayload):
    TOPIC = ORDERS_EVENTS


class OrderPlaced(_OrdersEvent):
    TYPE = "orders.order_placed"
    order_id: str
    customer: Customer
    items: list[OrderItem] = Field(min_length=1)
    placed_at: datetime
    # Where the sale happens: "online", or "outlet:<outlet id>" for an in-store sale at an NTT Mart
    # outlet (catalog then reserves that outlet's shelf, never the online stock).
    channel: str = "online"


class PaymentRequested(_OrdersEvent):
    """The order is priced and stock is held: payments should open a Midtrans transaction."""

    TYPE = "orders.payment_requested"
    order_id: str
    customer: Customer
    lines: list[PricedLine] = Field(min_length=1)
    gross_amount: Rupiah = Field(gt=0)
    # The reservation's `expires_at`, unchanged: the order's one deadline (Snap expires before it).
    pay_before: datetime
    channel: str = "online"
    # How the buyer pays: "snap" (the online checkout), or at an outlet "qris" (Midtrans Core API
    # charge, the QR shown at the till) or "cash" (taken by the staff, settled at once).
    payment_method: Literal["snap", "qris", "cash"] = "snap"


class OrderRejected(_OrdersEvent):
    TYPE = "orders.order_rejected"
    order_id: str
    customer: Customer
    reason: str


class OrderPaid(_OrdersEvent):
    """The payment settled while the order was still payable. Receipts and sellers' "new paid
    order" messages follow this event, never `payments.payment_settled`: only orders knows
    whether the order had been cancelled meanwhile (that money is returned instead)."""

    TYPE = "orders.order_paid"
    order_id: str
    customer: Customer
    gross_amount: Rupiah
    lines: list[SettledLine] = Field(default_factory=list)
    levy_total: Rupiah = 0
    payment_type: str = ""
    settled_at: datetime | None = None
    channel: str = "online"


# stock_unavailable: paid after the hold ended and the units were sold meanwhile (the payment is returned).
CancelReason = Literal[
    "shopper_cancelled", "payment_failed", "payment_expired", "payment_setup_failed", "checkout_timeout", "stock_unavailable"
]


class OrderCancelled(_OrdersEvent):
    """The order will not be paid: held stock must be released, an open payment cancelled."""

    TYPE = "orders.order_cancelled"
    order_id: str
    customer: Customer
    reason: CancelReason
    # Sellers that were already told to ship (the order had been paid, then its hold turned out
    # to have lapsed): they must now be told not to. Empty for an order cancelled before payment.
    sellers: list[SellerContact] = Field(default_factory=list)


class OrderShipped(_OrdersEvent):
    """One seller's part of an order left with a courier."""

    TYPE = "orders.order_shipped"
    order_id: str
    seller_id: str
    customer: Customer
    courier: str
    tracking_number: str
    shipped_at: datetime
    # The seller's shop name, so that a shopper of a many-seller order can tell the parcels'
    # notices apart. Added later (optional, still v1): absent in older events.
    seller_name: str | None = None


class OrderCompleted(_OrdersEvent):
    """The shopper confirmed receipt of one seller's part (or it completed automatically)."""

    TYPE = "orders.order_completed"
    order_id: str
    seller: SellerContact
    gross: Rupiah
    levy: Rupiah
    seller_payable: Rupiah
    completed_at: datetime


# --- pick-up at an NTT Mart outlet ----------------------------------------------------------
# The pick-up code travels in the shopper's own messages (ready, reminder): the hand-over at the
# outlet checks it, so only the shopper's inbox and notifications, which consume these, see it.


class SubOrderAtOutlet(_OrdersEvent):
    """One seller's part of a pick-up order arrived at the chosen NTT Mart outlet: the shopper
    may collect it with the order's pick-up code; after `collect_before` the outlet may return it."""

    TYPE = "orders.sub_order_at_outlet"
    order_id: str
    seller_id: str
    seller_name: str
    customer: Customer
    outlet: PickupOutlet
    pickup_code: str = Field(min_length=6, max_length=6)
    arrived_at: datetime
    collect_before: datetime


class PickupReminderDue(_OrdersEvent):
    """A parcel is still waiting at the outlet and its collection deadline is near."""

    TYPE = "orders.pickup_reminder_due"
    order_id: str
    seller_id: str
    seller_name: str
    customer: Customer
    outlet: PickupOutlet
    pickup_code: str = Field(min_length=6, max_length=6)
    collect_before: datetime


class PickupCollected(_OrdersEvent):
    """The shopper showed the pick-up code and took the parcels waiting at the outlet. Each
    parcel's sub-order also completes with `orders.order_completed`, exactly as a confirmed
    receipt (this event only adds what the shopper is told)."""

    TYPE = "orders.pickup_collected"
    order_id: str
    customer: Customer
    outlet: PickupOutlet
    seller_names: list[str] = Field(min_length=1)
    collected_at: datetime


class SubOrderReturned(_OrdersEvent):
    """A parcel nobody collected before its deadline went back to its seller: payments refunds
    exactly these lines through Midtrans (and reverses their levy), as any refund."""

    TYPE = "orders.sub_order_returned"
    order_id: str
    seller: SellerContact
    customer: Customer
    outlet: PickupOutlet
    lines: list[ReturnedLine] = Field(min_length=1)
    gross: Rupiah = Field(gt=0)
    returned_at: datetime
