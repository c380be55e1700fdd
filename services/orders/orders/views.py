"""What the orders API answers: orders, sub-orders and sellers' views of them, built from the
stored order documents."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from beli_contracts.values import Customer
from orders.documents import OrderDocument, SubOrder
from orders.domain import COURIER, OrderStatus, SubOrderStatus, outlet_of


class OrderLineOut(BaseModel):
    product_id: str
    variant_id: str | None = None
    product_name: str | None
    seller_id: str | None
    quantity: int
    unit_price: int | None = Field(description="Set once the catalog has priced and reserved the line")
    subtotal: int | None


class SubOrderLineOut(BaseModel):
    product_id: str
    variant_id: str | None
    product_name: str
    category: str
    quantity: int
    unit_price: int
    subtotal: int
    levy: int | None = Field(description="PAD levy of the line in Rupiah; set once paid")
    seller_payable: int | None = Field(description="subtotal - levy; set once paid")


class OutletOut(BaseModel):
    outlet_id: str
    name: str = Field(description='"NTT Mart <regency>"')
    regency: str
    address: str
    opening_hours: str
    phone: str


class DeliveryOut(BaseModel):
    method: Literal["courier", "pickup"] = Field(description="`pickup`: the seller delivers to the outlet, the shopper collects it there")
    outlet: OutletOut | None = Field(default=None, description="Where to deliver and collect (pick-up only)")


class SubOrderOut(BaseModel):
    """One seller's part of an order: fulfilled and settled on its own."""

    seller_id: str
    seller_name: str
    status: SubOrderStatus
    lines: list[SubOrderLineOut]
    gross: int
    levy: int | None = Field(description="Set once paid")
    seller_payable: int | None = Field(description="Set once paid")
    courier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None = Field(
        description="`shopper` (confirmed receipt), `auto` (after the auto-complete delay) or `outlet` (handed over at the outlet: picked up, or sold at its till)"
    )
    delivery: DeliveryOut
    at_outlet_at: datetime | None = Field(default=None, description="When the seller delivered it to the outlet (pick-up)")
    collect_before: datetime | None = Field(default=None, description="Pick-up deadline; after it the outlet may return the parcel")
    returned_at: datetime | None = Field(default=None, description="Returned to the seller uncollected (refunded)")


class ShopperContact(BaseModel):
    name: str
    phone: str


class SellerOrderOut(SubOrderOut):
    """What a seller sees of an order: only their sub-order, and whom to deliver to."""

    order_id: str
    order_status: OrderStatus
    customer: ShopperContact
    created_at: datetime
    paid_at: datetime | None


class SellerOrdersPage(BaseModel):
    items: list[SellerOrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page")


class PaymentOut(BaseModel):
    token: str
    redirect_url: str
    qr_string: str | None = Field(default=None, description="In-store QRIS: the QR payload to show at the till")


class StatusChange(BaseModel):
    status: OrderStatus
    at: datetime


class OrderOut(BaseModel):
    id: str
    status: OrderStatus
    status_reason: str | None
    customer: Customer = Field(description="The signed-in account's contact: every message goes there")
    delivery_contact: ShopperContact | None = Field(default=None, description="Another recipient for the parcel, if the checkout named one")
    total: int | None = Field(description="Rupiah; set once priced")
    levy_total: int | None = Field(description="PAD levy in Rupiah; set once paid")
    items: list[OrderLineOut]
    sub_orders: list[SubOrderOut] = Field(description="One per seller, once the order is priced")
    payment: PaymentOut | None
    pay_before: datetime | None
    created_at: datetime
    updated_at: datetime
    history: list[StatusChange] = Field(default_factory=list, description="Every status the order went through, oldest first")
    pickup_code: str | None = Field(
        default=None, description="Shown only to the shopper: the outlet hands parcels over against it (pick-up orders only)"
    )
    channel: str = Field(default="online", description="`online`, or `outlet:<outlet id>` for an in-store sale")
    payment_method: str = Field(default="snap", description="`snap` online; `qris` or `cash` at an outlet")
    refunded_total: int = Field(default=0, description="Rupiah refunded so far (levy reversed), e.g. a cash sale returned at the till")


class OrdersPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page")


class OrderCreated(BaseModel):
    id: str
    status: OrderStatus


def order_view(order: OrderDocument) -> OrderOut:
    if order.lines:
        items = [
            OrderLineOut(
                product_id=line["product_id"],
                variant_id=line.get("variant_id"),
                product_name=line["product_name"],
                seller_id=line["seller"]["seller_id"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                subtotal=line["subtotal"],
            )
            for line in order.lines
        ]
    else:
        items = [
            OrderLineOut(
                product_id=item["product_id"],
                variant_id=item.get("variant_id"),
                product_name=None,
                seller_id=None,
                quantity=item["quantity"],
                unit_price=None,
                subtotal=None,
            )
            for item in order.items
        ]
    return OrderOut(
        id=order.id,
        status=OrderStatus(order.status),
        status_reason=order.status_reason,
        customer=order.customer,
        delivery_contact=order.delivery_contact,
        total=order.total,
        levy_total=order.levy_total,
        items=items,
        sub_orders=[sub_order_view(sub) for sub in order.sub_orders],
        payment=order.payment,
        pay_before=order.pay_before,
        created_at=order.created_at,
        updated_at=order.updated_at,
        history=[change.model_dump() for change in order.history],
        pickup_code=order.pickup_code,
        channel=order.channel,
        payment_method=order.payment_method,
        refunded_total=order.refunded_total,
    )


def _sub_order_fields(sub: SubOrder) -> dict[str, Any]:
    lines = [
        SubOrderLineOut(
            product_id=line.product_id,
            variant_id=line.variant_id,
            product_name=line.product_name,
            category=line.category,
            quantity=line.quantity,
            unit_price=line.unit_price,
            subtotal=line.subtotal,
            levy=line.levy,
            seller_payable=line.seller_payable,
        )
        for line in sub.lines
    ]
    return {
        "seller_id": sub.seller_id,
        "seller_name": sub.seller.name,
        "status": sub.status,
        "lines": lines,
        "gross": sub.gross,
        "levy": sub.levy,
        "seller_payable": sub.seller_payable,
        "courier": sub.courier,
        "tracking_number": sub.tracking_number,
        "shipped_at": sub.shipped_at,
        "completed_at": sub.completed_at,
        "completed_by": sub.completed_by,
        "delivery": (sub.delivery or COURIER).model_dump(exclude_unset=True),
        "at_outlet_at": sub.at_outlet_at,
        "collect_before": sub.collect_before,
        "returned_at": sub.returned_at,
    }


def sub_order_view(sub: SubOrder) -> SubOrderOut:
    return SubOrderOut(**_sub_order_fields(sub))


def seller_order_view(order: OrderDocument, seller_id: str) -> SellerOrderOut:
    sub = next(sub for sub in order.sub_orders if sub.seller_id == seller_id)
    return SellerOrderOut(
        **_sub_order_fields(sub),
        order_id=order.id,
        order_status=order.status,
        customer=_recipient(order),
        created_at=order.created_at,
        paid_at=order.paid_at,
    )


class OutletOrderOut(BaseModel):
    """What an outlet's staff see of an order: its parcels for this outlet and whom to hand
    them to (never the pick-up code: the shopper shows it)."""

    order_id: str
    order_status: OrderStatus
    customer: ShopperContact
    outlet_id: str
    parcels: list[SubOrderOut]
    created_at: datetime


class OutletOrdersPage(BaseModel):
    items: list[OutletOrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page")


def _recipient(order: OrderDocument) -> ShopperContact:
    return ShopperContact(**{"name": order.customer.name, "phone": order.customer.phone} | (order.delivery_contact or {}))


def outlet_order_view(order: OrderDocument, outlet_id: str) -> OutletOrderOut:
    return OutletOrderOut(
        order_id=order.id,
        order_status=order.status,
        customer=_recipient(order),
        outlet_id=outlet_id,
        parcels=[sub_order_view(sub) for sub in order.sub_orders if outlet_of(sub) == outlet_id],
        created_at=order.created_at,
    )
