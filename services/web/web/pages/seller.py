"""Seller centre: registering the business, its status, orders to ship, the monthly statement.

Products live in `seller_products.py`. Every call goes to the services as the signed-in seller;
the services decide what the seller may see (their own sub-orders, their own statement).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from beli_contracts.reference import REGENCIES
from beli_runtime.clock import utcnow
from web.backend import BackendError
from web.dashboard import current_period, month_name, shift_period
from web.deps import backend
from web.render import page
from web.security import require_user
from web.sessions import Session, current_session
from web.staff_forms import COURIERS, FormProblem, low_stock, seller_body, text

router = APIRouter(prefix="/penjual")
seller_user = require_user("seller")
SellerSession = Annotated[Session, Depends(seller_user)]
ORDER_TABS = (
    ("PAID", "Perlu dikirim"),
    ("SHIPPED", "Dikirim"),
    ("AT_OUTLET", "Di NTT Mart"),
    ("COMPLETED", "Selesai"),
    ("RETURNED", "Dikembalikan"),
    ("AWAITING_PAYMENT", "Menunggu bayar"),
    ("CANCELLED", "Batal"),
)


def seller_id_of(session: Session) -> str | None:
    return (session.account or {}).get("seller_id")


def need_profile(session: Session) -> str | Response:
    """The seller's profile id, or a redirect to the registration form when there is none yet."""
    seller_id = seller_id_of(session)
    if seller_id is None:
        return RedirectResponse("/penjual/daftar", status_code=303)
    return seller_id


@router.get("")
async def centre(request: Request, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    api = backend(request)
    seller = await api.get(session, "catalog", f"/sellers/{seller_id}")
    products = await api.get(session, "catalog", f"/sellers/{seller_id}/products", limit=200)
    to_ship = await api.get(session, "orders", f"/sellers/{seller_id}/orders", status="PAID", limit=5)
    return page(
        request,
        "seller/centre.html",
        title="Toko saya",
        seller=seller,
        product_count=len(products),
        active_count=sum(1 for p in products if p["active"]),
        warnings=low_stock(products),
        to_ship=to_ship["items"],
        more_to_ship=to_ship["next_cursor"] is not None,
    )


@router.get("/daftar")
async def registration_form(request: Request, session: SellerSession) -> Response:
    if seller_id_of(session):
        return RedirectResponse("/penjual", status_code=303)
    account = session.account or {}
    values = {"email": account.get("email", ""), "phone": account.get("phone", ""), "owner_name": account.get("name", "")}
    return _registration(request, values, {})


@router.post("/daftar")
async def register(request: Request, session: SellerSession) -> Response:
    if seller_id_of(session):
        return RedirectResponse("/penjual", status_code=303)
    form = await request.form()
    values = {name: text(form, name) for name in form if name != "csrf_token"}
    try:
        await backend(request).call(session, "POST", "catalog", "/sellers", json=seller_body(form))
    except FormProblem as problem:
        return _registration(request, values, {problem.field: problem.message}, status=400)
    except BackendError as error:
        if error.status in (0, 401) or error.status >= 500:
            raise
        errors = error.field_errors()
        return _registration(request, values, errors, None if errors else error.message, status=400)
    # The new access token carries the seller_id every later call needs.
    await backend(request).refresh(session)
    current_session(request).flash(
        "Pendaftaran usaha terkirim. Operator akan memverifikasinya; sambil menunggu, Anda bisa menyiapkan produk.", "success"
    )
    return RedirectResponse("/penjual", status_code=303)


def _registration(
    request: Request, values: dict[str, Any], errors: dict[str, str], error: str | None = None, status: int = 200
) -> Response:
    return page(
        request,
        "seller/register.html",
        status,
        title="Daftarkan usaha",
        values=values,
        errors=errors,
        error=error,
        regencies=[(r, r) for r in REGENCIES],
    )


@router.get("/pesanan")
async def orders(request: Request, session: SellerSession, status: str = "PAID", cursor: str | None = None) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    status = status if status in dict(ORDER_TABS) else "PAID"
    found = await backend(request).get(session, "orders", f"/sellers/{seller_id}/orders", status=status, cursor=cursor, limit=20)
    next_url = f"/penjual/pesanan?status={status}&cursor={found['next_cursor']}" if found["next_cursor"] else None
    return page(
        request,
        "seller/orders.html",
        title="Pesanan",
        tabs=ORDER_TABS,
        status=status,
        orders=found["items"],
        next_url=next_url,
        first_url=f"/penjual/pesanan?status={status}" if cursor else None,
        couriers=COURIERS,
        errors={},
    )


@router.post("/pesanan/{order_id}/kirim")
async def ship(request: Request, order_id: str, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    form = await request.form()
    courier = text(form, "courier_other") if text(form, "courier") == "lainnya" else text(form, "courier")
    body = {"courier": courier, "tracking_number": text(form, "tracking_number").replace(" ", "").upper()}
    flash = current_session(request).flash
    try:
        await backend(request).call(session, "POST", "orders", f"/orders/{order_id}/sub-orders/{seller_id}/ship", json=body)
    except BackendError as error:
        if error.status in (0, 401) or error.status >= 500:
            raise
        messages = error.field_errors()
        detail = "; ".join(messages.values()) if messages else error.message
        flash(f"Pesanan {order_id} belum dikirim: {detail}", "error")
        return RedirectResponse("/penjual/pesanan?status=PAID", status_code=303)
    flash(f"Pesanan {order_id} ditandai dikirim dengan {courier}, resi {body['tracking_number']}.", "success")
    return RedirectResponse("/penjual/pesanan?status=PAID", status_code=303)


@router.post("/pesanan/{order_id}/antar-ntt-mart")
async def delivered_to_outlet(request: Request, order_id: str, session: SellerSession) -> Response:
    """The seller left a pick-up order at the NTT Mart outlet the shopper chose."""
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    flash = current_session(request).flash
    try:
        sub = await backend(request).call(session, "POST", "orders", f"/orders/{order_id}/sub-orders/{seller_id}/deliver-to-outlet")
    except BackendError as error:
        if error.status in (0, 401) or error.status >= 500:
            raise
        flash(f"Pesanan {order_id} belum ditandai: {error.message}", "error")
        return RedirectResponse("/penjual/pesanan?status=PAID", status_code=303)
    flash(f"Pesanan {order_id} sudah diantar ke {sub['delivery']['outlet']['name']}: pembeli kami kabari.", "success")
    return RedirectResponse("/penjual/pesanan?status=PAID", status_code=303)


@router.get("/laporan")
async def statement(request: Request, session: SellerSession, period: str | None = None, after: int | None = None) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    this_month = current_period(utcnow())
    period = period if period and _is_period(period) else this_month
    found = await backend(request).get(session, "payments", f"/sellers/{seller_id}/statement", period=period, after=after, limit=200)
    return page(
        request,
        "seller/statement.html",
        title=f"Laporan penjualan {month_name(period)}",
        period=period,
        period_name=month_name(period),
        previous_period=shift_period(period, -1),
        next_period=shift_period(period, 1) if period < this_month else None,
        lines=found["lines"],
        totals=found["totals"],
        next_url=f"/penjual/laporan?period={period}&after={found['next_cursor']}" if found["next_cursor"] else None,
    )


def _is_period(value: str) -> bool:
    return len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit() and 1 <= int(value[5:]) <= 12
