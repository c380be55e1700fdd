"""Who may do what in the catalog. Tokens are verified locally (beli_runtime.auth); ownership
is decided from the catalog's own data: a seller profile belongs to the account that created it."""

from typing import Annotated

from fastapi import Depends, Path, Request

from beli_runtime.auth import Principal, Role, current_principal, require_role
from catalog.documents import SellerDocument

__all__ = ["admin_only", "current_principal", "may_manage_seller", "product_owner", "sees_private", "seller_account", "seller_self"]
from beli_runtime.http import ApiError

admin_only = require_role(Role.ADMIN)
seller_account = require_role(Role.SELLER)


async def may_manage_seller(request: Request, principal: Principal, seller_id: str) -> None:
    """An admin, or the seller account that owns the profile. Anyone else gets a 404, so that
    other sellers' ids cannot be probed."""
    if principal.role is Role.ADMIN:
        return
    seller = await request.app.state.store.seller(seller_id)
    if principal.role is not Role.SELLER or seller is None or seller.account_id != principal.account_id:
        raise ApiError(
            404 if principal.role is Role.SELLER else 403,
            f"penjual {seller_id} tidak ditemukan" if principal.role is Role.SELLER else "hanya penjual pemilik atau admin",
        )


def sees_private(principal: Principal | None, seller: SellerDocument) -> bool:
    """The seller's own account and operators see its private details, hidden products' photos
    and a pending profile; everyone else sees what shoppers see."""
    if principal is None:
        return False
    return principal.role is Role.ADMIN or (principal.role is Role.SELLER and seller.account_id == principal.account_id)


async def seller_self(request: Request, principal: Annotated[Principal, Depends(current_principal)], seller_id: str = Path()) -> Principal:
    """The seller named in the path (its own account) or an admin."""
    await may_manage_seller(request, principal, seller_id)
    return principal


async def product_owner(
    request: Request, principal: Annotated[Principal, Depends(current_principal)], product_id: str = Path()
) -> Principal:
    """Only the seller who owns the product (or an admin) may change it, its stock and photos."""
    if principal.role is Role.ADMIN:
        return principal
    product = await request.app.state.store.product(product_id)
    if product is None:
        raise ApiError(404, f"produk {product_id} tidak ditemukan")
    await may_manage_seller(request, principal, product.seller_id)
    return principal
