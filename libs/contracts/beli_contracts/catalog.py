"""Events produced by the catalog service (topic `catalog.events`)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import CATALOG_EVENTS
from beli_contracts.values import PricedLine, SellerContact, Value


class _CatalogEvent(EventPayload):
    TOPIC = CATALOG_EVENTS


class StockReserved(_CatalogEvent):
    """Every line of the order is reserved; unit prices here are authoritative."""

    TYPE = "catalog.stock_reserved"
    order_id: str
    lines: list[PricedLine] = Field(min_length=1)
    expires_at: datetime


class RejectedLine(Value):
    product_id: str
    requested: int
    available: int
    # hold_limit: the shopper already holds as many unpaid units as one shopper may (see catalog settings).
    reason: Literal["not_found", "insufficient_stock", "not_for_sale", "hold_limit"]
    variant_id: str | None = None


class StockRejected(_CatalogEvent):
    """Nothing was reserved for the order; `lines` says which lines failed and why."""

    TYPE = "catalog.stock_rejected"
    order_id: str
    lines: list[RejectedLine] = Field(min_length=1)


class ReservationReleased(_CatalogEvent):
    """Reserved units went back on sale (order cancelled, payment failed or reservation expired)."""

    TYPE = "catalog.reservation_released"
    order_id: str
    reason: str


class ReservationCommitted(_CatalogEvent):
    """The reserved units are sold."""

    TYPE = "catalog.reservation_committed"
    order_id: str


class ReservationLapsed(_CatalogEvent):
    """The order was paid after its hold had ended and the units were sold to someone else
    meanwhile: nothing can be delivered, so the payment must go back to the shopper."""

    TYPE = "catalog.reservation_lapsed"
    order_id: str
    reason: str


class ProductPriceChanged(_CatalogEvent):
    """A seller changed a price. Orders already placed keep the price they were reserved at."""

    TYPE = "catalog.product_price_changed"
    product_id: str
    seller_id: str
    variant_id: str | None = None
    old_price: int
    new_price: int


class StockChanged(_CatalogEvent):
    """A seller set the stock of a product (or variant) by hand."""

    TYPE = "catalog.stock_changed"
    product_id: str
    seller_id: str
    variant_id: str | None = None
    stock: int


class StockLow(_CatalogEvent):
    """Available units fell below the seller's threshold."""

    TYPE = "catalog.stock_low"
    product_id: str
    product_name: str
    variant_id: str | None = None
    seller: SellerContact
    stock: int
    threshold: int
