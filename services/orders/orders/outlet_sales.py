"""In-store sales at NTT Mart outlets. The outlet's staff build an order from the outlet's shelf
(channel `outlet:<outlet id>`); it goes through the same saga as an online order: catalog
reserves the outlet's units, payments takes QRIS (Midtrans Core API) or cash and levies it, and
the goods leave the till with the buyer, so the sub-orders complete as soon as it is paid.

The buyer may name their account (e-mail or phone) so the purchase counts toward their ASN
commitment: orders keeps its own copy of accounts' proven contacts (catalog.account_verified)
and never asks the catalog's database."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import EmailStr, Field, model_validator

from beli_contracts import Envelope
from beli_contracts.accounts import AccountVerified
from beli_contracts.outlets import outlet_channel
from beli_contracts.programme import NipLinked, nip_digest
from beli_contracts.values import Customer
from beli_runtime.auth import Principal, Role, current_principal
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, Session, ensure_index
from beli_runtime.service import ServiceRuntime
from beli_runtime.strict import StrictRequest as Strict
from orders.api import _replay, _valid_key, place_answered
from orders.checkouts import Checkouts, placement
from orders.documents import OrderDocument
from orders.domain import SHOPPER_CANCELLABLE, OrderStatus, request_fingerprint
from orders.handlers import OrdersHandlers
from orders.store import OrdersStore, new_order, new_order_id
from orders.views import OrderCreated, OrderOut, order_view

PHONE = r"^\+?[0-9]{8,15}$"
NIP = r"^[0-9 ]{18,40}$"
DAY = r"^\d{4}-\d{2}-\d{2}$"
WITA = timezone(timedelta(hours=8))


def wita_day(day: str) -> dict[str, datetime]:
    """The UTC range of a WITA calendar day (the till's day), as a query on created_at."""
    try:
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=WITA).astimezone(UTC)
    except ValueError:
        raise ApiError(422, f"{day} bukan tanggal kalender (YYYY-MM-DD)", field="day") from None
    return {"$gte": start, "$lt": start + timedelta(days=1)}


class SaleLine(Strict):
    product_id: str = Field(min_length=1, max_length=64, description="Scanned or searched on the outlet's shelf")
    variant_id: str | None = Field(default=None, min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)


class BuyerIn(Strict):
    """The buyer's Beli NTT account, so the purchase counts toward their (ASN) commitment."""

    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=PHONE)
    nip: str | None = Field(
        default=None, pattern=NIP, description="An ASN's NIP (18 digits, spaces allowed): the account that claimed it, verified"
    )

    @model_validator(mode="after")
    def one_of(self) -> "BuyerIn":
        if sum(value is not None for value in (self.email, self.phone, self.nip)) != 1:
            raise ValueError("buyer: isi salah satu: e-mail, nomor telepon atau NIP akun pembeli")
        return self


class SaleIn(Strict):
    items: list[SaleLine] = Field(min_length=1, max_length=50)
    payment_method: Literal["qris", "cash"] = Field(description="QRIS through Midtrans (a QR at the till) or cash taken by the staff")
    buyer: BuyerIn | None = None


async def outlet_staff(principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path()) -> Principal:
    """Staff of the outlet in the path; staff of another outlet are told it does not exist."""
    if principal.role is Role.OUTLET and principal.outlet_id == outlet_id:
        return principal
    if principal.role is Role.OUTLET:
        raise ApiError(404, f"outlet {outlet_id} tidak ditemukan")
    raise ApiError(403, "hanya staf outlet ini")


async def outlet_staff_or_admin(principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path()) -> Principal:
    return principal if principal.role is Role.ADMIN else await outlet_staff(principal, outlet_id)


class Buyers:
    """Accounts' proven contacts, from catalog.account_verified: whom a buyer's e-mail or phone
    names; and verified NIP claims, from programme.nip_linked: whose NIP it is (by its digest)."""

    def __init__(self, db: Database) -> None:
        self.buyers = db["buyers"]
        self.asn = db["asn_links"]  # _id = the NIP's digest -> the account holding it

    async def ensure_indexes(self) -> None:
        await ensure_index(self.buyers, "email")
        await ensure_index(self.buyers, "phone")

    async def on_nip_linked(self, envelope: Envelope, event: NipLinked, session: Session) -> None:
        fields = event.model_dump(exclude={"nip_digest"}) | {"updated_at": utcnow()}
        await self.asn.update_one({"_id": event.nip_digest}, {"$set": fields}, upsert=True, session=session)

    async def by_nip(self, nip: str) -> Customer:
        link = await self.asn.find_one({"_id": nip_digest(nip)})
        if link is None:
            raise ApiError(
                422, "NIP ini belum terhubung dengan akun Beli NTT: ASN mengklaim NIP-nya di menu ASN lebih dulu", field="buyer.nip"
            )
        account = await self.buyers.find_one({"_id": link["account_id"]})
        if account is None:  # verified before orders kept accounts: counted, but nothing is sent to an unproven contact
            account = {"email": link.get("email") or "", "phone": link.get("phone") or "", "email_verified": False, "phone_verified": False}
        return Customer(
            name=account.get("name") or link["name"],
            email=account["email"],
            phone=account["phone"],
            account_id=link["account_id"],
            email_verified=account["email_verified"],
            phone_verified=account["phone_verified"],
        )

    async def on_account_verified(self, envelope: Envelope, event: AccountVerified, session: Session) -> None:
        fields = event.model_dump() | {"updated_at": utcnow()}
        await self.buyers.update_one({"_id": event.account_id}, {"$set": fields}, upsert=True, session=session)

    async def find(self, buyer: BuyerIn) -> Customer:
        if buyer.nip:
            return await self.by_nip(buyer.nip)
        query = {"email": buyer.email.lower()} if buyer.email else {"phone": buyer.phone}
        account = await self.buyers.find_one(query | {"role": "shopper"})
        if account is None:
            raise ApiError(422, "akun pembeli dengan e-mail/telepon ini tidak ditemukan", field="buyer")
        return Customer(
            name=account.get("name") or account["email"],
            email=account["email"],
            phone=account["phone"],
            account_id=account["account_id"],
            email_verified=account["email_verified"],
            phone_verified=account["phone_verified"],
        )


def walk_in(staff: Principal, outlet_id: str) -> Customer:
    """A buyer without an account: nothing is ever sent to this contact (unverified)."""
    return Customer(name=f"Pembeli di {outlet_id}", email=staff.email or f"{outlet_id}@outlet.beli-ntt.id", phone=staff.phone or "")


def build_router(runtime: ServiceRuntime, store: OrdersStore, buyers: Buyers, handlers: OrdersHandlers) -> APIRouter:
    router = APIRouter(tags=["outlets"])
    _register_sale(router, runtime, store, buyers)
    _register_sales(router, runtime, store, handlers)
    return router


def _register_sale(router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, buyers: Buyers) -> None:
    checkouts = Checkouts(runtime, store)

    @router.post(
        "/outlets/{outlet_id}/sales",
        status_code=201,
        response_model=OrderCreated,
        responses={400: {"description": "Idempotency-Key missing"}, 409: {"description": "Idempotency-Key reused with another body"}},
    )
    async def sell(
        outlet_id: str,
        body: SaleIn,
        staff: Annotated[Principal, Depends(outlet_staff)],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description="Unique per sale; kept 24 h")] = None,
    ) -> JSONResponse:
        """An in-store sale from the outlet's shelf. Follow `GET .../sales/{id}`: once AWAITING_PAYMENT
        the QRIS code is in `payment` (or take the cash and record it in payments)."""
        key = f"{staff.account_id}:{_valid_key(idempotency_key)}"
        payload = body.model_dump(mode="json", exclude_none=True)
        fingerprint = request_fingerprint(payload | {"outlet_id": outlet_id})
        if (earlier := await store.remembered(key)) is not None:
            return _replay(earlier, fingerprint)
        customer = await buyers.find(body.buyer) if body.buyer else walk_in(staff, outlet_id)
        now = utcnow()
        order = new_order(new_order_id(), customer.model_dump(), payload["items"], now) | {
            "channel": outlet_channel(outlet_id),
            "outlet_id": outlet_id,
            "payment_method": body.payment_method,
            "sold_by": staff.account_id,
        }
        response = {"id": order["_id"], "status": OrderStatus.PENDING.value}
        sale = placement(key, fingerprint, order, payload | {"customer": customer.model_dump()}, response, now)
        return await place_answered(checkouts, store, sale)


def _register_sales(router: APIRouter, runtime: ServiceRuntime, store: OrdersStore, handlers: OrdersHandlers) -> None:
    async def own_sale(outlet_id: str, order_id: str) -> OrderDocument:
        order = await store.get(order_id)
        if order is None or order.outlet_id != outlet_id:
            raise ApiError(404, f"penjualan {order_id} tidak ditemukan di outlet ini")
        return order

    @router.get("/outlets/{outlet_id}/sales", response_model=list[OrderOut])
    async def sales(
        outlet_id: str,
        _: Annotated[Principal, Depends(outlet_staff_or_admin)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        day: Annotated[str | None, Query(pattern=DAY, description="Only the sales rung up on this WITA day (YYYY-MM-DD)")] = None,
    ) -> list[OrderOut]:
        """The outlet's sales, newest first."""
        query: dict[str, Any] = {"outlet_id": outlet_id}
        if day:
            query["created_at"] = wita_day(day)
        found = await store.orders.find(query).sort("created_at", -1).limit(limit).to_list()
        return [order_view(OrderDocument.from_document(doc)) for doc in found]

    @router.get(
        "/outlets/{outlet_id}/sales/{order_id}", response_model=OrderOut, responses={404: {"description": "Not this outlet's sale"}}
    )
    async def sale(outlet_id: str, order_id: str, _: Annotated[Principal, Depends(outlet_staff_or_admin)]) -> OrderOut:
        return order_view(await own_sale(outlet_id, order_id))

    @router.post(
        "/outlets/{outlet_id}/sales/{order_id}/cancel",
        response_model=OrderOut,
        responses={404: {"description": "Not this outlet's sale"}, 409: {"description": "Already paid"}},
    )
    async def cancel_sale(outlet_id: str, order_id: str, _: Annotated[Principal, Depends(outlet_staff)]) -> OrderOut:
        """The buyer changed their mind before paying: the shelf units go back on sale."""
        await own_sale(outlet_id, order_id)

        async def work(session: Session) -> OrderDocument | None:
            return await handlers.cancel(session, order_id, "shopper_cancelled", "dibatalkan di kasir outlet", order_id)

        cancelled = await runtime.write(work)
        order = cancelled or await own_sale(outlet_id, order_id)
        if order.status != OrderStatus.CANCELLED.value:
            allowed = ", ".join(sorted(SHOPPER_CANCELLABLE))
            raise ApiError(409, f"penjualan {order_id} berstatus {order.status}; hanya {allowed} yang bisa dibatalkan")
        return order_view(order)
