"""Orders HTTP routes: checkout (idempotent), order status, cancellation."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator
from pymongo.errors import DuplicateKeyError

from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.service import ServiceRuntime

from orders.domain import SHOPPER_CANCELLABLE, OrderStatus, request_fingerprint
from orders.handlers import OrdersHandlers
from orders.settings import OrdersSettings
from orders.store import OrdersStore, new_order, new_order_id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    name: str = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=r"^\+?[0-9]{8,15}$", description="Digits, optionally starting with +")


def checkout_model(settings: OrdersSettings) -> type[Strict]:
    class ItemIn(Strict):
        product_id: str = Field(min_length=1, max_length=64)
        quantity: int = Field(gt=0, le=settings.max_quantity_per_line)

    class Checkout(Strict):
        customer: CustomerIn
        items: list[ItemIn] = Field(min_length=1, max_length=settings.max_lines_per_order)

        @model_validator(mode="after")
        def one_line_per_product(self) -> "Checkout":
            seen: set[str] = set()
            for item in self.items:
                if item.product_id in seen:
                    raise ValueError(f"items: product {item.product_id} appears more than once; use one line with the total quantity")
                seen.add(item.product_id)
            return self

    return Checkout


class OrderLineOut(BaseModel):
    product_id: str
    product_name: str | None
    seller_id: str | None
    quantity: int
    unit_price: int | None = Field(description="Set once the catalog has priced and reserved the line")
    subtotal: int | None


class PaymentOut(BaseModel):
    token: str
    redirect_url: str


class OrderOut(BaseModel):
    id: str
    status: OrderStatus
    status_reason: str | None
    customer: Customer
    total: int | None = Field(description="Rupiah; set once priced")
    levy_total: int | None = Field(description="PAD levy in Rupiah; set once paid")
    items: list[OrderLineOut]
    payment: PaymentOut | None
    pay_before: datetime | None
    created_at: datetime
    updated_at: datetime


class OrderCreated(BaseModel):
    id: str
    status: OrderStatus


def order_view(doc: dict[str, Any]) -> OrderOut:
    if doc["lines"]:
        items = [OrderLineOut(product_id=line["product_id"], product_name=line["product_name"], seller_id=line["seller"]["seller_id"],
                              quantity=line["quantity"], unit_price=line["unit_price"], subtotal=line["subtotal"]) for line in doc["lines"]]
    else:
        items = [OrderLineOut(product_id=item["product_id"], product_name=None, seller_id=None, quantity=item["quantity"],
                              unit_price=None, subtotal=None) for item in doc["items"]]
    return OrderOut(id=doc["_id"], status=doc["status"], status_reason=doc.get("status_reason"), customer=doc["customer"],
                    total=doc["total"], levy_total=doc["levy_total"], items=items, payment=doc["payment"],
                    pay_before=doc["pay_before"], created_at=doc["created_at"], updated_at=doc["updated_at"])


def build_router(runtime: ServiceRuntime, store: OrdersStore, handlers: OrdersHandlers, settings: OrdersSettings) -> APIRouter:
    router = APIRouter(tags=["orders"])
    Checkout = checkout_model(settings)

    @router.post("/orders", status_code=201, response_model=OrderCreated, responses={
        400: {"description": "Idempotency-Key missing or malformed"},
        409: {"description": "Idempotency-Key reused with a different body"}})
    async def place_order(
        body: Checkout,  # type: ignore[valid-type]
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description="Unique per checkout attempt; kept 24 h")] = None,
    ) -> JSONResponse:
        key = _valid_key(idempotency_key)
        payload = body.model_dump(mode="json")
        fingerprint = request_fingerprint(payload)
        if (earlier := await store.remembered(key)) is not None:
            return _replay(earlier, fingerprint)
        order_id = new_order_id()
        now = utcnow()
        order = new_order(order_id, payload["customer"], payload["items"], now)
        response = {"id": order_id, "status": OrderStatus.PENDING.value}

        async def work(session: Any) -> None:
            await store.place(session, key, fingerprint, order, response)
            await runtime.outbox.add(
                session,
                OrderPlaced(order_id=order_id, customer=Customer(**payload["customer"]),
                            items=[OrderItem(**item) for item in payload["items"]], placed_at=now),
                key=order_id, correlation_id=order_id,
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
    async def get_order(order_id: str) -> OrderOut:
        order = await store.get(order_id)
        if order is None:
            raise ApiError(404, f"order {order_id} not found")
        return order_view(order)

    @router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses={409: {"description": "Order can no longer be cancelled"}})
    async def cancel_order(order_id: str) -> OrderOut:
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
        raise ApiError(409, f"order {order_id} is {order['status']} and can no longer be cancelled; "
                            f"only {', '.join(sorted(SHOPPER_CANCELLABLE))} orders can")

    return router


def _valid_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ApiError(400, "the Idempotency-Key header is required: send a unique value per checkout attempt", field="Idempotency-Key")
    key = key.strip()
    if len(key) > 100 or not key.isprintable():
        raise ApiError(400, "Idempotency-Key must be at most 100 printable characters", field="Idempotency-Key")
    return key


def _replay(earlier: dict[str, Any], fingerprint: str) -> JSONResponse:
    if earlier["fingerprint"] != fingerprint:
        raise ApiError(409, "this Idempotency-Key was already used with a different request body", field="Idempotency-Key",
                       order_id=earlier["order_id"])
    return JSONResponse(earlier["response"], status_code=201, headers={"Idempotent-Replayed": "true"})
