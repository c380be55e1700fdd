"""NTT Mart outlet staff: parcels for pick-up at their own outlet (waiting, still to come,
handed over, returned), the hand-over against the shopper's pick-up code, and the return of a
parcel nobody collected in time. The orders service decides what the staff may see: only their
outlet (the token carries its id)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from beli_runtime.clock import utcnow
from web.backend import BackendError
from web.deps import backend
from web.render import page
from web.security import require_user
from web.sessions import Session

router = APIRouter(prefix="/ntt-mart")
OutletStaff = Annotated[Session, Depends(require_user("outlet"))]
TABS = (
    ("AT_OUTLET", "Menunggu diambil"),
    ("PAID", "Akan diantar penjual"),
    ("COMPLETED", "Sudah diambil"),
    ("RETURNED", "Dikembalikan"),
)


def outlet_of(session: Session) -> str:
    return str((session.account or {}).get("outlet_id") or "")


@router.get("/paket")
async def parcels(request: Request, session: OutletStaff, status: str = "AT_OUTLET", cursor: str | None = None) -> Response:
    outlet_id = outlet_of(session)
    status = status if status in dict(TABS) else "AT_OUTLET"
    found = await backend(request).get(session, "orders", f"/outlets/{outlet_id}/orders", status=status, cursor=cursor, limit=20)
    next_url = f"/ntt-mart/paket?status={status}&cursor={found['next_cursor']}" if found["next_cursor"] else None
    now = utcnow()
    for order in found["items"]:
        # Past its deadline a parcel may be returned to its seller (the service checks again).
        order["overdue"] = any(
            p["status"] == "AT_OUTLET" and p["collect_before"] and datetime.fromisoformat(p["collect_before"]) <= now
            for p in order["parcels"]
        )
    return page(
        request,
        "outlet/parcels.html",
        title="Paket ambil di NTT Mart",
        tabs=TABS,
        status=status,
        orders=found["items"],
        next_url=next_url,
        first_url=f"/ntt-mart/paket?status={status}" if cursor else None,
    )


@router.post("/paket/{order_id}/serahkan")
async def hand_over(request: Request, session: OutletStaff, order_id: str, code: Annotated[str, Form()] = "") -> Response:
    """The shopper showed the pick-up code: every parcel of the order waiting here is theirs."""
    try:
        await backend(request).call(
            session, "POST", "orders", f"/outlets/{outlet_of(session)}/orders/{order_id}/handover", json={"code": code.strip()[:20] or "-"}
        )
    except BackendError as error:
        if error.status not in (404, 409, 422, 429):
            raise
        session.flash(f"Pesanan {order_id} belum diserahkan: {error.message}", "error")
        return RedirectResponse(f"/ntt-mart/paket#pesanan-{order_id}", status_code=303)
    session.flash(f"Pesanan {order_id} sudah diserahkan kepada pembeli.", "success")
    return RedirectResponse("/ntt-mart/paket", status_code=303)


@router.post("/paket/{order_id}/kembalikan")
async def return_uncollected(request: Request, session: OutletStaff, order_id: str) -> Response:
    """Past the collection deadline: the parcel goes back to its seller, the shopper is refunded."""
    try:
        await backend(request).call(session, "POST", "orders", f"/outlets/{outlet_of(session)}/orders/{order_id}/return")
    except BackendError as error:
        if error.status not in (404, 409):
            raise
        session.flash(f"Pesanan {order_id} belum dapat dikembalikan: {error.message}", "error")
        return RedirectResponse("/ntt-mart/paket", status_code=303)
    session.flash(f"Pesanan {order_id} dikembalikan ke penjual; dana pembeli dikembalikan.", "success")
    return RedirectResponse("/ntt-mart/paket?status=RETURNED", status_code=303)
