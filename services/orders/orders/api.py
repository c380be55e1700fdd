"""Orders HTTP routes: checkout (idempotent), order status, cancellation, and fulfilment of
each seller's sub-order (sellers' order lists, shipping, the shopper's confirmation)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import EmailStr, Field, model_validator
from pymongo.errors import DuplicateKeyError

from beli_runtime.auth import CurrentPrincipal, Principal
from beli_runtime.clock import utcnow
from beli_runtime.cursors import BadCursor, cursors
from beli_runtime.http import ApiError
from beli_runtime.service import ServiceRuntime
from beli_runtime.strict import StrictRequest as Strict
from orders import access
from orders.checkouts import Checkouts, Placement, placement
from orders.documents import OrderDocument
from orders.domain import SHOPPER_CANCELLABLE, OrderStatus, SubOrderStatus, request_fingerprint
from orders.fulfilment import Fulfilment, write_retrying
from orders.handlers import OrdersHandlers
from orders.outlets import OutletDirectory
from orders.pickup import PickupCodes
from orders.settings import OrdersSettings
from orders.store import OrdersStore, new_order, new_order_id
from orders.views import OrderCreated, OrderOut, SellerOrderOut, SellerOrdersPage, order_view, seller_order_view


class CustomerIn(Strict):
    """Who receives the parcel. Messages (payment link, receipt, shipping) always go to the
    signed-in account's own verified e-mail and phone, from the token; an e-mail or phone here
    that differs from the account's is kept only as the delivery contact for the seller."""

    name: str = Field(min_length=2, max_length=120)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{8,15}$", description="Digits, optionally starting with +")


class DeliveryIn(Strict):
    """How one seller's part of the order reaches the shopper."""

    seller_id: str = Field(min_length=1, max_length=64)
    method: Literal["courier", "pickup"] = Field(description='`pickup`: "ambil di NTT Mart <regency>", no shipping fee')
    outlet_id: str | None = Field(default=None, min_length=1, max_length=64, description="Required for pick-up, e.g. ntt-mart-belu")

    @model_validator(mode="after")
    def outlet_for_pickup_only(self) -> "DeliveryIn":
        if self.method == "pickup" and not self.outlet_id:
            raise ValueError("outlet_id: pilih NTT Mart tempat mengambil pesanan")
        if self.method == "courier" and self.outlet_id:
            raise ValueError("outlet_id: hanya untuk pengambilan di NTT Mart (method pickup)")
        return self


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
        deliveries: list[DeliveryIn] | None = Field(
            default=None,
            max_length=settings.max_lines_per_order,
            description="Per seller: courier (the default for a seller not named) or pick-up at an NTT Mart outlet. "
            "A seller with nothing in the order is ignored.",
        )

        @model_validator(mode="after")
        def one_line_per_product(self) -> "Checkout":
            seen: set[tuple[str, str | None]] = set()
            for item in self.items:
                if (item.product_id, item.variant_id) in seen:
                    what = f"product {item.product_id}" + (f" variant {item.variant_id}" if item.variant_id else "")
                    raise ValueError(f"items: {what} appears more than once; use one line with the total quantity")
                seen.add((item.product_id, item.variant_id))
            sellers = [delivery.seller_id for delivery in self.deliveries or []]
            if len(sellers) != len(set(sellers)):
                raise ValueError("deliveries: one choice per seller")
            return self

    return Checkout


class ShipmentIn(Strict):
    courier: str = Field(min_length=2, max_length=40, description="e.g. JNE, J&T, POS Indonesia, SiCepat")
    tracking_number: str = Field(min_length=4, max_length=40, pattern=r"^[A-Za-z0-9-]+$", description="The courier's receipt (resi)")


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


async def resolve_deliveries(outlets: OutletDirectory, deliveries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Seller id -> the delivery as sub-orders record it; a pick-up names a known, active outlet."""
    resolved = {}
    for index, delivery in enumerate(deliveries):
        if delivery["method"] == "pickup":
            outlet = await outlets.pickup_point(delivery["outlet_id"], f"deliveries.{index}.outlet_id")
            resolved[delivery["seller_id"]] = {"method": "pickup", "outlet": outlet}
        else:
            resolved[delivery["seller_id"]] = {"method": "courier"}
    return resolved


def build_router(
    runtime: ServiceRuntime,
    store: OrdersStore,
    handlers: OrdersHandlers,
    fulfilment: Fulfilment,
    settings: OrdersSettings,
    codes: PickupCodes,
) -> APIRouter:
    router = APIRouter(tags=["orders"])
    _register_checkout(router, runtime, store, settings, handlers.outlets, codes)
    _register_order(router, runtime, store, handlers)
    _register_fulfilment(router, runtime, store, fulfilment)
    return router


def _register_checkout(
    router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, settings: OrdersSettings, outlets: OutletDirectory, codes: PickupCodes
) -> None:
    Checkout = checkout_model(settings)
    checkouts = Checkouts(runtime, store)

    @router.post(
        "/orders",
        status_code=201,
        response_model=OrderCreated,
        responses={
            400: {"description": "Idempotency-Key missing or malformed"},
            409: {"description": "Idempotency-Key reused with a different body"},
            422: {"description": "Invalid body, or a pick-up outlet that is unknown or not active"},
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
        # A retried pick-up checkout is answered before its outlet is looked up again (it may have
        # closed since) and before a pick-up code is issued for it. Any other retry is answered
        # when its claim of the key finds the key taken (_place): one look-up fewer per order.
        pickup = any(delivery.get("method") == "pickup" for delivery in payload.get("deliveries") or [])
        if pickup and (earlier := await store.remembered(key)) is not None:
            return _replay(earlier, fingerprint)
        deliveries = await resolve_deliveries(outlets, payload.get("deliveries") or [])
        order_id = new_order_id()
        now = utcnow()
        order = new_order(order_id, payload["customer"], payload["items"], now)
        order["delivery_contact"] = delivery_contact(payload["customer"], contact)
        order["deliveries"] = deliveries
        if any(delivery["method"] == "pickup" for delivery in deliveries.values()):
            order["pickup_code"] = await codes.issue(order_id)
        response = {"id": order_id, "status": OrderStatus.PENDING.value}
        return await place_answered(checkouts, store, placement(key, fingerprint, order, payload, response, now))


async def place_answered(checkouts: Checkouts, store: OrdersStore, placed: Placement) -> JSONResponse:
    """Stores the order with its idempotency key and announces it, in one transaction (shared
    with the checkouts placed at the same time: checkouts.py); answers it, or replays the order
    of a concurrent request with the same key. Online checkouts and the till's sales alike."""
    try:
        await checkouts.place(placed)
    except DuplicateKeyError:
        # The same key is being used by a concurrent request that won the race.
        earlier = await store.remembered(placed.key)
        if earlier is None:
            raise ApiError(409, "Idempotency-Key is in use by a request still running; retry shortly") from None
        return _replay(earlier, placed.fingerprint)
    return JSONResponse(placed.response, status_code=201)


def _register_order(router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, handlers: OrdersHandlers) -> None:
    @router.get("/orders/{order_id}", response_model=OrderOut)
    async def get_order(order_id: str, principal: CurrentPrincipal) -> OrderOut:
        """The shopper's own order (or any, for an admin). Sellers use `GET /sellers/{id}/orders`."""
        return order_view(access.ensure_owner(principal, await store.get(order_id), order_id))

    @router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses={409: {"description": "Order can no longer be cancelled"}})
    async def cancel_order(order_id: str, principal: CurrentPrincipal) -> OrderOut:
        access.ensure_owner(principal, await store.get(order_id), order_id)

        async def work(session: Any) -> OrderDocument | None:
            return await handlers.cancel(session, order_id, "shopper_cancelled", "cancelled by the shopper", order_id)

        cancelled = await runtime.write(work)
        if cancelled is not None:
            return order_view(cancelled)
        order = await store.get(order_id)
        if order is None:
            raise ApiError(404, f"order {order_id} not found")
        if order.status == OrderStatus.CANCELLED.value:
            return order_view(order)  # cancelling twice is not an error
        raise ApiError(
            409,
            f"order {order_id} is {order.status} and can no longer be cancelled; only {', '.join(sorted(SHOPPER_CANCELLABLE))} orders can",
        )


def _register_fulfilment(router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, fulfilment: Fulfilment) -> None:
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
        before = decode_listing_cursor(cursor) if cursor else None
        found = await store.seller_orders(seller_id, status.value if status else None, before, limit + 1)
        page = found[:limit]
        next_cursor = encode_listing_cursor(page[-1].listing_key or "") if len(found) > limit else None
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


SELLER_ORDERS_CURSOR = "orders.seller-orders"


def encode_listing_cursor(key: str) -> str:
    return cursors(SELLER_ORDERS_CURSOR).encode(key)


def decode_listing_cursor(cursor: str) -> str:
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
