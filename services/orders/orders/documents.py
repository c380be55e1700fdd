"""Orders' stored documents, as store.py reads and writes them (see beli_runtime.documents:
unnamed fields are kept, defaults are never written into a document that lacked them). Fields
are declared in the order the documents were always written."""

from datetime import datetime
from typing import Any

from pydantic import Field

from beli_contracts.values import Customer, PickupOutlet, SellerContact
from beli_runtime.documents import Document, StatusChange


class Delivery(Document):
    """How a sub-order reaches the shopper: by courier, or for pick-up at an NTT Mart outlet."""

    method: str  # `courier` or `pickup`
    outlet: PickupOutlet | None = None  # the outlet, as orders knew it at checkout (pick-up only)


class SubOrderLine(Document):
    """An order line of one seller: the priced line (without the seller) and, once paid, its levy."""

    product_id: str
    product_name: str
    category: str
    quantity: int
    unit_price: int
    variant_id: str | None = None
    ovop_village: str | None = None
    levy: int | None = None
    seller_payable: int | None = None
    levy_rule_id: str | None = None
    levy_rule_version: int | None = None
    subtotal: int


class SubOrder(Document):
    """One seller's part of an order: what it fulfils and is paid for (orders.domain moves it)."""

    seller_id: str
    seller: SellerContact
    status: str
    lines: list[SubOrderLine]
    gross: int
    levy: int | None = None
    seller_payable: int | None = None
    courier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None  # `shopper`, `auto` or `outlet`
    delivery: Delivery | None = None  # None on sub-orders from before pick-up existed: courier
    at_outlet_at: datetime | None = None
    collect_before: datetime | None = None
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    returned_at: datetime | None = None


class PickupThrottle(Document):
    """Wrong pick-up codes given for an order, and until when its hand-over is locked."""

    failures: int = 0
    locked_until: datetime | None = None


class OrderDocument(Document):
    """One shopper's order (one payment), with a sub-order per seller once it is priced."""

    id: str = Field(alias="_id")
    status: str
    customer: Customer
    items: list[dict[str, Any]]  # the checkout's lines as the shopper sent them (product, variant, quantity)
    lines: list[dict[str, Any]] = []  # priced by the catalog: PricedLine with its subtotal
    total: int | None = None
    levy_total: int | None = None
    payment: dict[str, Any] | None = None  # the link: token, redirect_url, qr_string
    pay_before: datetime | None = None
    created_at: datetime
    updated_at: datetime | None = None
    history: list[StatusChange] = []
    delivery_contact: dict[str, str] | None = None
    deliveries: dict[str, Delivery] = {}  # seller id -> the delivery chosen at checkout
    pickup_code: str | None = None
    pickup_throttle: PickupThrottle | None = None
    channel: str = "online"
    payment_method: str = "snap"
    outlet_id: str | None = None  # a sale at this outlet's till
    refunded_total: int = 0  # Rupiah refunded so far (payments.levy_reversed), e.g. a cash sale returned at the till
    sub_orders: list[SubOrder] = []
    fulfilment_version: int | None = None
    listing_key: str | None = None  # sellers' and outlets' lists sort by it (domain.listing_key)
    status_reason: str | None = None
    cancel_reason: str | None = None
    paid_at: datetime | None = None
    completed_at: datetime | None = None
