"""My orders: list, one order with its status timeline, confirm receipt, cancel an unpaid one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from web.backend import BackendError
from web.deps import backend
from web.qr import qr_svg
from web.render import page
from web.security import shopper
from web.sessions import Session

router = APIRouter()
Shopper = Annotated[Session, Depends(shopper)]
WAITING = {"PENDING", "AWAITING_PAYMENT"}
STATUS_LABELS = {
    "PENDING": "Memeriksa stok",
    "AWAITING_PAYMENT": "Menunggu pembayaran",
    "PAID": "Dibayar",
    "SHIPPED": "Dikirim",
    "AT_OUTLET": "Siap diambil di NTT Mart",
    "COMPLETED": "Selesai",
    "RETURNED": "Dikembalikan (tidak diambil)",
    "CANCELLED": "Dibatalkan",
    "REJECTED": "Ditolak",
}
REFRESH_SECONDS = 3


@router.get("/pesanan")
async def my_orders(request: Request, session: Shopper, cursor: str | None = None) -> Response:
    result = await backend(request).get(session, "orders", "/orders", cursor=cursor, limit=20)
    next_url = f"/pesanan?cursor={result['next_cursor']}" if result["next_cursor"] else None
    return page(
        request,
        "orders/list.html",
        title="Pesanan saya",
        orders=result["items"],
        next_url=next_url,
        first_url="/pesanan" if cursor else None,
        labels=STATUS_LABELS,
    )


@router.get("/pesanan/{order_id}")
async def order_page(request: Request, session: Shopper, order_id: str, bayar: str | None = None) -> Response:
    """Also Midtrans's finish URL: its query (transaction_status, ...) is ignored; the state
    shown is the order's own, re-read every few seconds while a decision is pending."""
    order = await backend(request).get(session, "orders", f"/orders/{order_id}")
    payment = order.get("payment")
    if bayar and order["status"] == "AWAITING_PAYMENT" and payment:
        return RedirectResponse(payment["redirect_url"], status_code=303)
    waiting = order["status"] in WAITING
    response = page(
        request,
        "orders/detail.html",
        title=f"Pesanan {order_id}",
        order=order,
        labels=STATUS_LABELS,
        refresh_seconds=REFRESH_SECONDS if waiting else None,
        refresh_url=f"/pesanan/{order_id}" + ("?bayar=1" if bayar and not payment else ""),
        timeline=timeline(order),
        pickup_qr=pickup_qr(order),
    )
    return response


def pickup_qr(order: dict[str, Any]) -> Markup | None:
    """The pick-up code as a QR the outlet's scanner reads (it types the code into the hand-over field)."""
    code = order.get("pickup_code")
    if not code or order["status"] not in ("PAID", "COMPLETED"):
        return None
    return qr_svg(code, f"QR kode pengambilan {code}", scale=5)


def timeline(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps the order went through, then (greyed) the ones still ahead of it. The step
    between paid and completed is the parcels' way to the shopper: shipped by courier, or
    arrived at the NTT Mart outlet for pick-up (both for a mixed order); an in-store sale has
    none (the goods left the till)."""
    done = [{"status": step["status"], "at": step["at"], "done": True} for step in order.get("history") or []]
    reached = {step["status"] for step in done}
    if order["status"] in ("CANCELLED", "REJECTED"):
        return done
    subs = order.get("sub_orders") or []
    pickup = [sub for sub in subs if (sub.get("delivery") or {}).get("method") == "pickup"]
    transit = []
    if order.get("channel", "online") == "online":
        transit = (["SHIPPED"] if len(pickup) < len(subs) or not subs else []) + (["AT_OUTLET"] if pickup else [])
    last = "RETURNED" if order["status"] == "RETURNED" else "COMPLETED"
    ahead = [s for s in ("AWAITING_PAYMENT", "PAID", *transit, last) if s not in reached]
    for status, field in (("SHIPPED", "shipped_at"), ("AT_OUTLET", "at_outlet_at")):
        times = [sub[field] for sub in subs if sub.get(field)]
        if times and status in ahead:
            done.append({"status": status, "at": min(times), "done": True})
            ahead.remove(status)
    done.sort(key=lambda step: str(step["at"]))  # the way to the shopper happened between paid and completed
    return done + [{"status": status, "at": None, "done": False} for status in ahead]


@router.post("/pesanan/{order_id}/batal")
async def cancel(request: Request, session: Shopper, order_id: str) -> Response:
    try:
        await backend(request).call(session, "POST", "orders", f"/orders/{order_id}/cancel")
        session.flash("Pesanan dibatalkan. Stok dikembalikan ke penjual.", "success")
    except BackendError as error:
        if error.status != 409:
            raise
        session.flash("Pesanan ini sudah tidak bisa dibatalkan.", "error")
    return RedirectResponse(f"/pesanan/{order_id}", status_code=303)


@router.post("/pesanan/{order_id}/terima/{seller_id}")
async def confirm_receipt(request: Request, session: Shopper, order_id: str, seller_id: str) -> Response:
    try:
        await backend(request).call(session, "POST", "orders", f"/orders/{order_id}/sub-orders/{seller_id}/confirm")
        session.flash("Terima kasih! Penerimaan barang sudah dikonfirmasi.", "success")
    except BackendError as error:
        if error.status != 409:
            raise
        session.flash("Paket ini belum dikirim, jadi belum bisa dikonfirmasi.", "error")
    return RedirectResponse(f"/pesanan/{order_id}", status_code=303)
