"""Seller sign-up, profile and verification by an operator (admin)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pymongo.errors import DuplicateKeyError

from beli_runtime.auth import OptionalPrincipal, Principal
from beli_runtime.http import ApiError
from beli_runtime.mongo import Session
from catalog import access
from catalog.accounts import Accounts
from catalog.documents import SellerDocument
from catalog.listings import Write
from catalog.store import CatalogStore
from catalog.views import NewSeller, PublicSeller, Seller, SellerChanges, public_seller_view, seller_view


def _digits(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return "0" + digits[2:] if digits.startswith("62") else digits


def proven(principal: Principal, contact: dict[str, str]) -> dict[str, bool]:
    """Messages reach a seller's contact address only when it is the account's own verified one:
    an address typed here was never proven, and a stranger holding it must not read shoppers'
    names and phone numbers."""
    return {
        "email_verified": principal.email_verified and str(contact.get("email", "")).lower() == (principal.email or "").lower(),
        "phone_verified": principal.phone_verified and bool(principal.phone) and _digits(contact.get("phone")) == _digits(principal.phone),
    }


def build_router(store: CatalogStore, write: Write, accounts: Accounts) -> APIRouter:
    router = APIRouter(tags=["sellers"])
    admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(access.admin_only)])
    _register_profiles(router, store, write, accounts)
    _register_verification(admin, store, write)
    router.include_router(admin)
    return router


def _register_profiles(router: APIRouter, store: CatalogStore, write: Write, accounts: Accounts) -> None:
    @router.post("/sellers", status_code=201, response_model=Seller)
    async def create_seller(body: NewSeller, principal: Annotated[Principal, Depends(access.seller_account)]) -> Seller:
        """A seller account's business profile (one per account). It is `pending` until an admin
        verifies it; its products stay hidden until then. Refresh the token afterwards: the new
        one carries the `seller_id`."""
        # One profile per account is a unique index on account_id, not a check-then-insert:
        # two requests at once cannot both pass it.
        try:
            fields = body.model_dump(mode="json")
            seller = await store.add_seller(fields | {"account_id": principal.account_id} | proven(principal, fields))
        except DuplicateKeyError:
            raise ApiError(409, "akun ini sudah memiliki profil penjual") from None
        await accounts.link_seller(principal.account_id, seller.id)
        return seller_view(seller)

    @router.get("/sellers/{seller_id}", response_model=Seller | PublicSeller)
    async def get_seller(seller_id: str, principal: OptionalPrincipal) -> Seller | PublicSeller:
        """Anyone: the public view (name, regency, village, OVOP) of a verified seller. The seller's
        own account and operators: every detail, and the profile while it is pending."""
        seller = await _seller(store, seller_id)
        if access.sees_private(principal, seller):
            return seller_view(seller)
        if seller.status != "verified":  # pending sellers are not public: shoppers cannot tell them from unknown ids
            raise ApiError(404, f"penjual {seller_id} tidak ditemukan")
        return public_seller_view(seller)

    @router.patch("/sellers/{seller_id}", response_model=Seller)
    async def change_seller(seller_id: str, body: SellerChanges, principal: Annotated[Principal, Depends(access.seller_self)]) -> Seller:
        changes = body.model_dump(mode="json", exclude_unset=True)
        for name in ("name", "email", "phone", "ovop"):
            if name in changes and changes[name] is None:
                raise ApiError(422, f"{name} tidak boleh kosong", field=name)
        changes |= {f"{name}_verified": proven(principal, changes)[f"{name}_verified"] for name in ("email", "phone") if name in changes}

        async def work(session: Session) -> SellerDocument | None:
            return await store.update_seller(session, seller_id, changes)

        seller = await write(work) if changes else await store.seller(seller_id)
        if seller is None:
            raise ApiError(404, f"penjual {seller_id} tidak ditemukan")
        return seller_view(seller)


def _register_verification(admin: APIRouter, store: CatalogStore, write: Write) -> None:
    @admin.post("/sellers/{seller_id}/verify", response_model=Seller)
    async def verify_seller(seller_id: str) -> Seller:
        """pending → verified; the seller's active products become visible and orderable. Repeating it changes nothing."""

        async def work(session: Session) -> SellerDocument | None:
            return await store.verify_seller(session, seller_id)

        seller = await write(work)
        if seller is None:
            raise ApiError(404, f"penjual {seller_id} tidak ditemukan")
        return seller_view(seller)

    @admin.get("/sellers", response_model=list[Seller])
    async def sellers_to_review(
        status: Annotated[Literal["pending", "verified"], Query()] = "pending",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[Seller]:
        """The verification queue, oldest sign-up first."""
        return [seller_view(doc) for doc in await store.sellers_by_status(status, limit)]


async def _seller(store: CatalogStore, seller_id: str) -> SellerDocument:
    seller = await store.seller(seller_id)
    if seller is None:
        raise ApiError(404, f"penjual {seller_id} tidak ditemukan")
    return seller
