"""Pick-up HTTP routes: the outlets a shopper may choose, the seller's delivery to the outlet,
and the outlet staff's parcels (list, hand over against the pick-up code, return uncollected)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from beli_runtime.auth import Principal
from beli_runtime.service import ServiceRuntime
from beli_runtime.strict import StrictRequest
from orders import access
from orders.api import decode_listing_cursor, encode_listing_cursor
from orders.fulfilment import write_retrying
from orders.outlets import FIELDS, OutletDirectory
from orders.pickup import Pickup
from orders.store import OrdersStore
from orders.views import OutletOrderOut, OutletOrdersPage, OutletOut, SellerOrderOut, outlet_order_view, seller_order_view


class HandOverIn(StrictRequest):
    code: str = Field(min_length=1, max_length=20, description="The 6-character pick-up code the shopper shows")


class OutletsOut(BaseModel):
    items: list[OutletOut]


OUTLET_STATES = Literal["PAID", "AT_OUTLET", "COMPLETED", "RETURNED"]


def build_router(runtime: ServiceRuntime, store: OrdersStore, pickup: Pickup, outlets: OutletDirectory) -> APIRouter:
    router = APIRouter(tags=["pick-up"])
    _register_choice(router, runtime, pickup, outlets)
    _register_outlet_staff(router, runtime, store, pickup)
    return router


def _register_choice(router: APIRouter, runtime: ServiceRuntime, pickup: Pickup, outlets: OutletDirectory) -> None:
    """What shoppers and sellers do: choose an outlet, deliver to it."""

    @router.get("/outlets", response_model=OutletsOut)
    async def pickup_outlets() -> OutletsOut:
        """The NTT Mart outlets open for pick-up (public: shown at checkout)."""
        return OutletsOut(items=[OutletOut(**{key: outlet[key] for key in FIELDS}) for outlet in await outlets.listing()])

    @router.post(
        "/orders/{order_id}/sub-orders/{seller_id}/deliver-to-outlet",
        response_model=SellerOrderOut,
        responses={
            404: {"description": "No such order, or nothing in it from this seller"},
            409: {"description": "Not a pick-up sub-order, or not PAID"},
        },
    )
    async def deliver_to_outlet(order_id: str, seller_id: str, _: Annotated[Principal, Depends(access.seller_self)]) -> SellerOrderOut:
        """The seller left its part at the NTT Mart outlet the shopper chose (→ AT_OUTLET); the
        shopper is told it is ready, with the pick-up code. Pressing twice changes nothing."""
        order = await write_retrying(runtime, lambda session: pickup.deliver(session, order_id, seller_id))
        return seller_order_view(order, seller_id)


def _register_outlet_staff(router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, pickup: Pickup) -> None:
    """What an outlet's staff do with the parcels at their outlet."""

    @router.get("/outlets/{outlet_id}/orders", response_model=OutletOrdersPage)
    async def outlet_orders(
        outlet_id: str,
        _: Annotated[Principal, Depends(access.outlet_self)],
        status: Annotated[OUTLET_STATES, Query(description="AT_OUTLET = waiting for the shopper; PAID = still to come")] = "AT_OUTLET",
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> OutletOrdersPage:
        """Orders with parcels for this outlet in `status`, newest first (only this outlet's parcels)."""
        before = decode_listing_cursor(cursor) if cursor else None
        found = await store.outlet_orders(outlet_id, status, before, limit + 1)
        page = found[:limit]
        next_cursor = encode_listing_cursor(page[-1].listing_key or "") if len(found) > limit else None
        return OutletOrdersPage(items=[outlet_order_view(doc, outlet_id) for doc in page], next_cursor=next_cursor)

    @router.get("/outlets/{outlet_id}/orders/{order_id}", response_model=OutletOrderOut)
    async def outlet_order(outlet_id: str, order_id: str, _: Annotated[Principal, Depends(access.outlet_self)]) -> OutletOrderOut:
        return outlet_order_view(await pickup.at_outlet(order_id, outlet_id), outlet_id)

    @router.post(
        "/outlets/{outlet_id}/orders/{order_id}/handover",
        response_model=OutletOrderOut,
        responses={
            404: {"description": "No parcel of this order at this outlet"},
            409: {"description": "Nothing of the order is waiting at the outlet yet"},
            422: {"description": "Wrong pick-up code"},
            429: {"description": "Too many wrong codes for this order: wait (Retry-After)"},
        },
    )
    async def hand_over(
        outlet_id: str, order_id: str, body: HandOverIn, _: Annotated[Principal, Depends(access.outlet_self)]
    ) -> OutletOrderOut:
        """The shopper showed the code: every parcel of the order waiting here is handed over and
        completes exactly as a confirmed receipt (`orders.order_completed`)."""
        await pickup.check_code(await pickup.at_outlet(order_id, outlet_id), outlet_id, body.code)
        order = await write_retrying(runtime, lambda session: pickup.hand_over(session, order_id, outlet_id))
        return outlet_order_view(order, outlet_id)

    @router.post(
        "/outlets/{outlet_id}/orders/{order_id}/return",
        response_model=OutletOrderOut,
        responses={
            404: {"description": "No parcel of this order at this outlet"},
            409: {"description": "The collection deadline has not passed, or nothing is waiting"},
        },
    )
    async def return_uncollected(outlet_id: str, order_id: str, _: Annotated[Principal, Depends(access.outlet_self)]) -> OutletOrderOut:
        """Parcels not collected by their deadline go back to their sellers (→ RETURNED); the
        shopper's money for them is refunded and their levy reversed (payments)."""
        order = await write_retrying(runtime, lambda session: pickup.return_uncollected(session, order_id, outlet_id))
        return outlet_order_view(order, outlet_id)
