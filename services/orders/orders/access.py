"""Who may see and change which order. Tokens are verified locally (beli_runtime.auth).

An order belongs to the shopper account that placed it; a seller reaches only its own part of
orders (sub-orders). Anyone else asking about an order gets a 404, never its data.
"""

from typing import Annotated

from fastapi import Depends, Path

from beli_runtime.auth import Principal, Role, current_principal, require_role
from beli_runtime.http import ApiError
from orders.documents import OrderDocument

shopper_only = require_role(Role.SHOPPER)


def owns(principal: Principal, order: OrderDocument) -> bool:
    return principal.role is Role.ADMIN or (principal.role is Role.SHOPPER and order.customer.account_id == principal.account_id)


def ensure_owner(principal: Principal, order: OrderDocument | None, order_id: str) -> OrderDocument:
    if order is None or not owns(principal, order):
        raise ApiError(404, f"order {order_id} not found")
    return order


async def seller_self(principal: Annotated[Principal, Depends(current_principal)], seller_id: str = Path()) -> Principal:
    """The seller named in the path (its token carries its seller id), or an admin."""
    if principal.role is Role.ADMIN or (principal.role is Role.SELLER and principal.seller_id == seller_id):
        return principal
    if principal.role is Role.SELLER:
        raise ApiError(404, f"seller {seller_id} has no orders you can see")
    raise ApiError(403, "only the seller itself (or an admin) sees a seller's orders")


async def outlet_self(principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path()) -> Principal:
    """Staff of the outlet named in the path (their token carries its outlet id), or an admin.
    Staff of another outlet learn nothing about this one's parcels."""
    if principal.role is Role.ADMIN or (principal.role is Role.OUTLET and principal.outlet_id == outlet_id):
        return principal
    if principal.role is Role.OUTLET:
        raise ApiError(404, f"outlet {outlet_id} has no orders you can see")
    raise ApiError(403, "only the outlet's own staff (or an admin) see an outlet's parcels")
