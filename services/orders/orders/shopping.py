"""The shopper's side of orders beyond checkout: the cart (kept here so that it follows the
shopper across devices) and the list of their own orders.

The cart holds only what the shopper chose (product, variant, quantity); prices, names and
stock are the catalog's and are read there when the cart is shown, so a cart never shows a
stale price as if it were the one to be paid (checkout prices the order from the catalog).
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from pymongo import ReturnDocument

from beli_runtime.auth import Principal
from beli_runtime.clock import utcnow
from beli_runtime.cursors import BadCursor, cursors
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database
from beli_runtime.strict import StrictRequest
from orders import access
from orders.documents import OrderDocument
from orders.settings import OrdersSettings


class CartLine(StrictRequest):
    product_id: str = Field(min_length=1, max_length=64)
    variant_id: str | None = Field(default=None, min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)


def cart_model(settings: OrdersSettings) -> type[BaseModel]:
    class CartIn(StrictRequest):
        items: list[CartLine] = Field(max_length=settings.max_lines_per_order)
        version: int | None = Field(
            default=None, ge=0, description="The `version` read with GET /cart: if the cart changed since (another device), 409"
        )

        @model_validator(mode="after")
        def one_line_per_product(self) -> "CartIn":
            keys = [(line.product_id, line.variant_id) for line in self.items]
            if len(keys) != len(set(keys)):
                raise ValueError("items: one line per product and variant; add the quantities up")
            return self

    return CartIn


class CartOut(BaseModel):
    items: list[CartLine]
    version: int = Field(description="Increases with every change; send it back with PUT to detect changes from another device")
    updated_at: datetime | None


class Carts:
    def __init__(self, db: Database) -> None:
        self.carts = db["carts"]

    async def get(self, account_id: str) -> CartOut:
        doc = await self.carts.find_one({"_id": account_id})
        if doc is None:
            return CartOut(items=[], version=0, updated_at=None)
        return CartOut(items=doc["items"], version=doc["version"], updated_at=doc["updated_at"])

    async def replace(self, account_id: str, items: list[CartLine], version: int | None) -> CartOut:
        now = utcnow()
        lines = [line.model_dump(exclude_none=True) for line in items]
        if version is None:
            doc = await self.carts.find_one_and_update(
                {"_id": account_id},
                {"$set": {"items": lines, "updated_at": now}, "$inc": {"version": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            assert doc is not None  # upsert with AFTER always returns the document
            return CartOut(items=doc["items"], version=doc["version"], updated_at=now)
        guard: dict[str, Any] = {"_id": account_id, "version": version}
        result = await self.carts.update_one(guard, {"$set": {"items": lines, "updated_at": now}, "$inc": {"version": 1}})
        if result.modified_count == 0:
            if version == 0 and await self.carts.find_one({"_id": account_id}, {"_id": 1}) is None:
                await self.carts.insert_one({"_id": account_id, "items": lines, "updated_at": now, "version": 1})
                return CartOut(items=items, version=1, updated_at=now)
            raise ApiError(409, "keranjang sudah diubah dari perangkat lain; muat ulang lalu coba lagi", field="version")
        return CartOut(items=items, version=version + 1, updated_at=now)


MY_ORDERS_CURSOR = "orders.my-orders"


def _encode_cursor(created_at: datetime, order_id: str) -> str:
    return cursors(MY_ORDERS_CURSOR).encode(f"{created_at.isoformat()}|{order_id}")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, order_id = cursors(MY_ORDERS_CURSOR).decode(cursor).split("|", 1)
        return datetime.fromisoformat(stamp), order_id
    except (BadCursor, AttributeError, ValueError):
        raise ApiError(422, "cursor is not a next_cursor this API returned", field="cursor") from None


def build_router(db: Database, settings: OrdersSettings, order_page: type[BaseModel], order_view: Any) -> APIRouter:
    router = APIRouter(tags=["shopper"])
    carts = Carts(db)
    CartIn = cart_model(settings)

    @router.get("/cart", response_model=CartOut, summary="The signed-in shopper's cart")
    async def get_cart(shopper: Annotated[Principal, Depends(access.shopper_only)]) -> CartOut:
        return await carts.get(shopper.account_id)

    @router.put("/cart", response_model=CartOut, summary="Replace the cart (an empty list empties it)")
    async def put_cart(body: CartIn, shopper: Annotated[Principal, Depends(access.shopper_only)]) -> CartOut:  # type: ignore[valid-type]
        return await carts.replace(shopper.account_id, body.items, body.version)  # type: ignore[attr-defined]

    @router.get("/orders", response_model=order_page, summary="The signed-in shopper's orders, newest first")
    async def my_orders(
        shopper: Annotated[Principal, Depends(access.shopper_only)],
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Any:
        query: dict[str, Any] = {"customer.account_id": shopper.account_id}
        if cursor:
            created_at, order_id = _decode_cursor(cursor)
            query["$or"] = [{"created_at": {"$lt": created_at}}, {"created_at": created_at, "_id": {"$lt": order_id}}]
        found = await db["orders"].find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit + 1).to_list()
        orders = [OrderDocument.from_document(doc) for doc in found[:limit]]
        next_cursor = _encode_cursor(orders[-1].created_at, orders[-1].id) if len(found) > limit else None
        return order_page(items=[order_view(order) for order in orders], next_cursor=next_cursor)

    return router
