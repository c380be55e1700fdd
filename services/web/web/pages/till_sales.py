"""After the till rang a sale up: its page (the QRIS code, followed until paid; or the cash taken
with the change to hand back), cancelling an unpaid sale, paying back a returned cash sale, the
day's sales and the daily cash report (a download from payments)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from beli_runtime.clock import utcnow
from web.backend import BackendError
from web.deps import backend
from web.pages.pickup import outlet_of
from web.qr import qr_svg
from web.render import WITA, page, rupiah
from web.security import require_user
from web.sessions import Session

router = APIRouter(prefix="/ntt-mart")
OutletStaff = Annotated[Session, Depends(require_user("outlet"))]
REFRESH_SECONDS = 3
UNPAID = ("PENDING", "AWAITING_PAYMENT")
LABELS = {
    "PENDING": "Memeriksa stok rak",
    "AWAITING_PAYMENT": "Menunggu pembayaran",
    "PAID": "Dibayar",
    "COMPLETED": "Lunas, barang diserahkan",
    "CANCELLED": "Dibatalkan",
    "REJECTED": "Ditolak",
}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today() -> str:
    return utcnow().astimezone(WITA).strftime("%Y-%m-%d")


def amount_of(text: str) -> int | None:
    """Rupiah as staff type them: 50000, 50.000 or Rp50.000."""
    digits = re.sub(r"^rp|[.\s]", "", text.strip().lower())
    return int(digits) if digits.isdigit() and 0 < len(digits) <= 10 else None


async def payment_of(request: Request, session: Session, order_id: str) -> dict[str, Any] | None:
    """The payment of the sale, or None while payments has not heard of it yet."""
    try:
        return await backend(request).get(session, "payments", f"/payments/{order_id}")
    except BackendError as error:
        if error.status != 404:
            raise
        return None


async def sale_page(
    request: Request, session: Session, order_id: str, errors: dict[str, str] | None = None, values: Any = None
) -> Response:
    outlet_id = outlet_of(session)
    sale = await backend(request).get(session, "orders", f"/outlets/{outlet_id}/sales/{order_id}")
    payment = await payment_of(request, session, order_id) if sale["status"] not in ("PENDING", "REJECTED") else None
    qris = sale["payment_method"] == "qris"
    cash_ready = not qris and sale["status"] == "AWAITING_PAYMENT" and (payment or {}).get("status") == "AWAITING_PAYMENT"
    # Refreshed while the outcome is still out of the staff's hands; never under a cash form being typed into.
    waiting = sale["status"] == "PENDING" or (sale["status"] == "AWAITING_PAYMENT" and not cash_ready)
    qr_string = (sale.get("payment") or {}).get("qr_string")
    return page(
        request,
        "outlet/sale.html",
        status_code=422 if errors else 200,
        title=f"Penjualan {order_id}",
        sale=sale,
        payment=payment,
        labels=LABELS,
        qr=qr_svg(qr_string, f"Kode QRIS pembayaran {rupiah(sale['total'])}", scale=5)
        if qris and qr_string and sale["status"] == "AWAITING_PAYMENT"
        else None,
        cash_ready=cash_ready,
        refundable=not qris and (payment or {}).get("status") == "SETTLED",
        refresh_seconds=REFRESH_SECONDS if waiting else None,
        errors=errors or {},
        values=values or {},
    )


@router.get("/kasir/penjualan/{order_id}")
async def sale(request: Request, session: OutletStaff, order_id: str) -> Response:
    return await sale_page(request, session, order_id)


@router.post("/kasir/penjualan/{order_id}/tunai")
async def take_cash(request: Request, session: OutletStaff, order_id: str, diterima: Annotated[str, Form()] = "") -> Response:
    diterima = diterima[:30]
    received = amount_of(diterima)
    if received is None:
        return await sale_page(
            request, session, order_id, {"diterima": "Isi uang yang diterima dalam rupiah, misalnya 50000."}, {"diterima": diterima}
        )
    try:
        taken = await backend(request).call(
            session, "POST", "payments", f"/outlets/{outlet_of(session)}/payments/{order_id}/cash", json={"received": received}
        )
    except BackendError as error:
        if error.status not in (404, 409, 422):
            raise
        return await sale_page(request, session, order_id, {"diterima": error.message}, {"diterima": diterima})
    session.flash(f"Tunai {rupiah(taken['received'])} diterima. Kembalian: {rupiah(taken['change'])}.", "success")
    return RedirectResponse(f"/ntt-mart/kasir/penjualan/{order_id}", status_code=303)


@router.post("/kasir/penjualan/{order_id}/kembalikan")
async def pay_back(request: Request, session: OutletStaff, order_id: str, dikembalikan: Annotated[str, Form()] = "") -> Response:
    """The buyer brought the goods back: the staff hand the cash back and record it."""
    dikembalikan = dikembalikan[:30]
    amount = amount_of(dikembalikan)
    if amount is None:
        return await sale_page(
            request, session, order_id, {"dikembalikan": "Isi uang yang dikembalikan dalam rupiah."}, {"dikembalikan": dikembalikan}
        )
    try:
        await backend(request).call(
            session, "POST", "payments", f"/outlets/{outlet_of(session)}/payments/{order_id}/cash-refund", json={"paid_back": amount}
        )
    except BackendError as error:
        if error.status not in (404, 409, 422):
            raise
        return await sale_page(request, session, order_id, {"dikembalikan": error.message}, {"dikembalikan": dikembalikan})
    session.flash(f"Pengembalian tunai {rupiah(amount)} dicatat; kontribusi PAD penjualan ini dibatalkan.", "success")
    return RedirectResponse(f"/ntt-mart/kasir/penjualan/{order_id}", status_code=303)


@router.post("/kasir/penjualan/{order_id}/batal")
async def cancel(request: Request, session: OutletStaff, order_id: str, kembali: Annotated[str, Form()] = "") -> Response:
    try:
        await backend(request).call(session, "POST", "orders", f"/outlets/{outlet_of(session)}/sales/{order_id}/cancel")
        session.flash(f"Penjualan {order_id} dibatalkan; stok rak dikembalikan.", "success")
    except BackendError as error:
        if error.status not in (404, 409):
            raise
        session.flash(f"Penjualan {order_id} tidak dapat dibatalkan: {error.message}", "error")
    back = "/ntt-mart/penjualan" if kembali == "daftar" else f"/ntt-mart/kasir/penjualan/{order_id}"
    return RedirectResponse(back, status_code=303)


@router.get("/penjualan")
async def day_sales(request: Request, session: OutletStaff, hari: str = "") -> Response:
    day = hari if DAY.match(hari) and _is_date(hari) else today()
    sales = await backend(request).get(session, "orders", f"/outlets/{outlet_of(session)}/sales", day=day, limit=200)
    paid = [s for s in sales if s["status"] in ("PAID", "COMPLETED")]
    return page(
        request,
        "outlet/sales.html",
        title="Penjualan hari ini" if day == today() else f"Penjualan {day}",
        sales=sales,
        labels=LABELS,
        day=day,
        is_today=day == today(),
        paid_total=sum(s["total"] or 0 for s in paid) - sum(s.get("refunded_total") or 0 for s in paid),
        unpaid=UNPAID,
    )


@router.get("/laporan-kas")
async def cash_report(request: Request, session: OutletStaff, hari: str = "", format: str = "xlsx") -> Response:
    """The outlet's daily cash report (sales, levy, cash to deposit), passed through from payments."""
    day = hari if DAY.match(hari) and _is_date(hari) else today()
    kind = format if format in ("csv", "xlsx") else "xlsx"
    answer = await backend(request).call(
        session, "GET", "payments", f"/outlets/{outlet_of(session)}/cash-report", params={"day": day, "format": kind}, raw=True
    )
    name = re.sub(r"[^A-Za-z0-9._-]", "", f"kas-{outlet_of(session)}-{day}.{kind}")
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )


def _is_date(day: str) -> bool:
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return False
    return True
