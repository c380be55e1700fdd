"""Orders HTTP routes: checkout (idempotent), order status, cancellation, and fulfilment of
each seller's sub-order (sellers' order lists, shipping, the shopper's confirmation)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, EmailStr, Field, model_validator
from pymongo.errors import DuplicateKeyError

from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime.auth import CurrentPrincipal, Principal
from beli_runtime.clock import utcnow
from beli_runtime.cursors import BadCursor, cursors
from beli_runtime.http import ApiError
from beli_runtime.service import ServiceRuntime
from beli_runtime.strict import StrictRequest as Strict
from orders import access
from orders.domain import SHOPPER_CANCELLABLE, OrderStatus, SubOrderStatus, request_fingerprint
from orders.fulfilment import Fulfilment, write_retrying
from orders.handlers import OrdersHandlers
from orders.settings import OrdersSettings
from orders.store import OrdersStore, new_order, new_order_id


class CustomerIn(Strict):
    """Who receives the parcel. Messages (payment link, receipt, shipping) always go to the
    signed-in account's own verified e-mail and phone, from the token; an e-mail or phone here
    that differs from the account's is kept only as the delivery contact for the seller."""

    name: str = Field(min_length=2, max_length=120)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{8,15}$", description="Digits, optionally starting with +")


def checkout_model(settings: OrdersSettings) -> type[Strict]:
    class ItemIn(Strict):
        product_id: str = Field(min_length=1, max_length=64)
        quantity: int = Field(gt=0, le=settings.max_quantity_per_line)
        variant_id: str | None = Field(
            default=None, min_length=1, max_length=64, description="The chosen variant, for products sold in variants"
        )

    class Checkout(Strict):
        customer: CustomerIn
        items: list[ItemIn] = Field(min_length=1, max_length=settings.max_lines_per_order)

        @model_validator(mode="after")
        def one_line_per_product(self) -> "Checkout":
            seen: set[tuple[str, str | None]] = set()
            for item in self.items:
                if (item.product_id, item.variant_id) in seen:
                    what = f"product {item.product_id}" + (f" variant {item.variant_id}" if item.variant_id else "")
                    raise ValueError(f"items: {what} appears more than once; use one line with the total quantity")
                seen.add((item.product_id, item.variant_id))
            return self

    return Checkout


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
    completed_by: str | None = Field(description="`shopper` (confirmed receipt) or `auto` (after the auto-complete delay)")


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


class ShipmentIn(Strict):
    courier: str = Field(min_length=2, max_length=40, description="e.g. JNE, J&T, POS Indonesia, SiCepat")
    tracking_number: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$", description="The courier's receipt (resi)")


class PaymentOut(BaseModel):
    token: str
    redirect_url: str


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


class OrdersPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page")


class OrderCreated(BaseModel):
    id: str
    status: OrderStatus


def order_view(doc: dict[str, Any]) -> OrderOut:
    if doc["lines"]:
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
            for line in doc["lines"]
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
            for item in doc["items"]
        ]
    return OrderOut(
        id=doc["_id"],
        status=doc["status"],
        status_reason=doc.get("status_reason"),
        customer=doc["customer"],
        delivery_contact=doc.get("delivery_contact"),
        total=doc["total"],
        levy_total=doc["levy_total"],
        items=items,
        sub_orders=[sub_order_view(sub) for sub in doc.get("sub_orders") or []],
        payment=doc["payment"],
        pay_before=doc["pay_before"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        history=doc.get("history") or [],
    )


def _sub_order_fields(sub: dict[str, Any]) -> dict[str, Any]:
    lines = [
        SubOrderLineOut(
            product_id=line["product_id"],
            variant_id=line.get("variant_id"),
            product_name=line["product_name"],
            category=line["category"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            subtotal=line["subtotal"],
            levy=line.get("levy"),
            seller_payable=line.get("seller_payable"),
        )
        for line in sub["lines"]
    ]
    return {
        "seller_id": sub["seller_id"],
        "seller_name": sub["seller"]["name"],
        "status": sub["status"],
        "lines": lines,
        "gross": sub["gross"],
        "levy": sub["levy"],
        "seller_payable": sub["seller_payable"],
        "courier": sub["courier"],
        "tracking_number": sub["tracking_number"],
        "shipped_at": sub["shipped_at"],
        "completed_at": sub["completed_at"],
        "completed_by": sub.get("completed_by"),
    }


def sub_order_view(sub: dict[str, Any]) -> SubOrderOut:
    return SubOrderOut(**_sub_order_fields(sub))


def seller_order_view(doc: dict[str, Any], seller_id: str) -> SellerOrderOut:
    sub = next(sub for sub in doc["sub_orders"] if sub["seller_id"] == seller_id)
    return SellerOrderOut(
        **_sub_order_fields(sub),
        order_id=doc["_id"],
        order_status=doc["status"],
        customer=ShopperContact(
            **{"name": doc["customer"]["name"], "phone": doc["customer"]["phone"]} | (doc.get("delivery_contact") or {})
        ),
        created_at=doc["created_at"],
        paid_at=doc.get("paid_at"),
    )


def account_contact(shopper: Principal, contact: dict[str, Any]) -> dict[str, Any]:
    """The customer as messages see it: the account's e-mail and phone from the signed token."""
    if not shopper.email:
        raise ApiError(422, "akun Anda tidak memiliki e-mail; masuk lagi dengan akun yang sudah diverifikasi")
    return {
        "name": contact["name"],
        "email": shopper.email,
        "phone": shopper.phone or contact.get("phone") or "",
        "account_id": shopper.account_id,
        "email_verified": shopper.email_verified,
        "phone_verified": shopper.phone_verified and bool(shopper.phone),
    }


def delivery_contact(customer: dict[str, Any], contact: dict[str, Any]) -> dict[str, str] | None:
    """A different recipient for the parcel (shown to sellers); never sent any message."""
    email, phone = contact.get("email"), contact.get("phone")
    if (not email or email.lower() == customer["email"].lower()) and (not phone or phone == customer["phone"]):
        return None
    return {"name": contact["name"], "phone": phone or customer["phone"]}


def build_router(
    runtime: ServiceRuntime, store: OrdersStore, handlers: OrdersHandlers, fulfilment: Fulfilment, settings: OrdersSettings
) -> APIRouter:
    router = APIRouter(tags=["orders"])
    Checkout = checkout_model(settings)

    @router.post(
        "/orders",
        status_code=201,
        response_model=OrderCreated,
        responses={
            400: {"description": "Idempotency-Key missing or malformed"},
            409: {"description": "Idempotency-Key reused with a different body"},
        },
    )
    async def place_order(
        # Built from the settings at run time (limits in the schema): a class mypy cannot see.
        body: Checkout,  # type: ignore[valid-type]
        shopper: Annotated[Principal, Depends(access.shopper_only)],
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", description="Unique per checkout attempt; kept 24 h")
        ] = None,
    ) -> JSONResponse:
        # Keys are per shopper: someone else's key can never return their order.
        key = f"{shopper.account_id}:{_valid_key(idempotency_key)}"
        # No `variant_id: null` in what is stored and fingerprinted: bodies without variants keep
        # the fingerprint they had before variants existed.
        checkout: Strict = body
        payload = checkout.model_dump(mode="json", exclude_none=True)
        fingerprint = request_fingerprint(payload)
        contact = payload["customer"]
        payload["customer"] = account_contact(shopper, contact)
        if (earlier := await store.remembered(key)) is not None:
            return _replay(earlier, fingerprint)
        order_id = new_order_id()
        now = utcnow()
        order = new_order(order_id, payload["customer"], payload["items"], now)
        order["delivery_contact"] = delivery_contact(payload["customer"], contact)
        response = {"id": order_id, "status": OrderStatus.PENDING.value}

        async def work(session: Any) -> None:
            await store.place(session, key, fingerprint, order, response)
            await runtime.outbox.add(
                session,
                OrderPlaced(
                    order_id=order_id,
                    customer=Customer(**payload["customer"]),
                    items=[OrderItem(**item) for item in payload["items"]],
                    placed_at=now,
                ),
                key=order_id,
                correlation_id=order_id,
            )

        try:
            await runtime.write(work)
        except DuplicateKeyError:
            # The same key is being used by a concurrent request that won the race.
            earlier = await store.remembered(key)
            if earlier is None:
                raise ApiError(409, "Idempotency-Key is in use by a request still running; retry shortly") from None
            return _replay(earlier, fingerprint)
        return JSONResponse(response, status_code=201)

    @router.get("/orders/{order_id}", response_model=OrderOut)
    async def get_order(order_id: str, principal: CurrentPrincipal) -> OrderOut:
        """The shopper's own order (or any, for an admin). Sellers use `GET /sellers/{id}/orders`."""
        return order_view(access.ensure_owner(principal, await store.get(order_id), order_id))

    @router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses={409: {"description": "Order can no longer be cancelled"}})
    async def cancel_order(order_id: str, principal: CurrentPrincipal) -> OrderOut:
        access.ensure_owner(principal, await store.get(order_id), order_id)

        async def work(session: Any) -> dict[str, Any] | None:
            return await handlers.cancel(session, order_id, "shopper_cancelled", "cancelled by the shopper", order_id)

        cancelled = await runtime.write(work)
        if cancelled is not None:
            return order_view(cancelled)
        order = await store.get(order_id)
        if order is None:
            raise ApiError(404, f"order {order_id} not found")
        if order["status"] == OrderStatus.CANCELLED.value:
            return order_view(order)  # cancelling twice is not an error
        raise ApiError(
            409,
            f"order {order_id} is {order['status']} and can no longer be cancelled; "
            f"only {', '.join(sorted(SHOPPER_CANCELLABLE))} orders can",
        )

    # --- fulfilment: one sub-order per seller ------------------------------------------------
    # The seller is in every path so that an ownership check (seller's own orders; the shopper's
    # own order for `confirm`) can be added as a route dependency without changing the contract.

    @router.get("/sellers/{seller_id}/orders", response_model=SellerOrdersPage, tags=["fulfilment"])
    async def seller_orders(
        seller_id: str,
        _: Annotated[Principal, Depends(access.seller_self)],
        status: Annotated[SubOrderStatus | None, Query(description="Only sub-orders in this state, e.g. PAID = to ship")] = None,
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> SellerOrdersPage:
        before = _decode_cursor(cursor) if cursor else None
        found = await store.seller_orders(seller_id, status.value if status else None, before, limit + 1)
        page = found[:limit]
        next_cursor = _encode_cursor(page[-1]["listing_key"]) if len(found) > limit else None
        return SellerOrdersPage(items=[seller_order_view(doc, seller_id) for doc in page], next_cursor=next_cursor)

    @router.post(
        "/orders/{order_id}/sub-orders/{seller_id}/ship",
        response_model=SellerOrderOut,
        tags=["fulfilment"],
        responses={
            404: {"description": "No such order, or nothing in it from this seller"},
            409: {"description": "The sub-order is not PAID, or was shipped with another courier or tracking number"},
        },
    )
    async def ship_sub_order(
        order_id: str, seller_id: str, body: ShipmentIn, _: Annotated[Principal, Depends(access.seller_self)]
    ) -> SellerOrderOut:
        order = await write_retrying(
            runtime, lambda session: fulfilment.ship(session, order_id, seller_id, body.courier, body.tracking_number)
        )
        return seller_order_view(order, seller_id)

    @router.post(
        "/orders/{order_id}/sub-orders/{seller_id}/confirm",
        response_model=OrderOut,
        tags=["fulfilment"],
        responses={
            404: {"description": "No such order, or nothing in it from this seller"},
            409: {"description": "The sub-order has not been shipped (or was cancelled)"},
        },
    )
    async def confirm_sub_order(order_id: str, seller_id: str, principal: CurrentPrincipal) -> OrderOut:
        """The shopper confirms receipt of one seller's parcel; the order completes with its last sub-order."""
        access.ensure_owner(principal, await store.get(order_id), order_id)
        order = await write_retrying(runtime, lambda session: fulfilment.confirm(session, order_id, seller_id))
        return order_view(order)

    return router


SELLER_ORDERS_CURSOR = "orders.seller-orders"


def _encode_cursor(key: str) -> str:
    return cursors(SELLER_ORDERS_CURSOR).encode(key)


def _decode_cursor(cursor: str) -> str:
    try:
        key = cursors(SELLER_ORDERS_CURSOR).decode(cursor)
    except BadCursor:
        key = None
    if not isinstance(key, str) or "|" not in key:
        raise ApiError(422, "cursor is not a next_cursor this API returned", field="cursor")
    return key


def _valid_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ApiError(400, "the Idempotency-Key header is required: send a unique value per checkout attempt", field="Idempotency-Key")
    key = key.strip()
    if len(key) > 100 or not key.isprintable():
        raise ApiError(400, "Idempotency-Key must be at most 100 printable characters", field="Idempotency-Key")
    return key


def _replay(earlier: dict[str, Any], fingerprint: str) -> JSONResponse:
    if earlier["fingerprint"] != fingerprint:
        raise ApiError(
            409,
            "this Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
            order_id=earlier["order_id"],
        )
    return JSONResponse(earlier["response"], status_code=201, headers={"Idempotent-Replayed": "true"})
