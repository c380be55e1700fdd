"""Gerakan Beli NTT for the shopper who is an ASN: claim a NIP, and the progress card (this
month's commitment, spent, remaining, the orders counted, past months).

The programme service owns every figure and every rule (who is linked, what counts); these pages
only ask it as the signed-in shopper and show the answer.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import Backend, BackendError, SignInRequired
from web.dashboard import month_name
from web.deps import backend
from web.render import page
from web.security import shopper
from web.sessions import Session, current_session
from web.staff_forms import text

router = APIRouter()
Shopper = Annotated[Session, Depends(shopper)]
CLAIM_STATUS = {
    "linked": "NIP Anda sudah terhubung dengan akun ini.",
    "pending": "Klaim NIP Anda menunggu persetujuan OPD Anda. Kami memberi tahu Anda setelah diputuskan.",
}


def _fatal(error: BackendError) -> bool:
    """A refusal the page explains itself (bad NIP, not on the roster, already linked) vs. an outage."""
    return error.status in (0, 401) or error.status >= 500


async def progress_card(api: Backend, session: Session) -> dict[str, Any] | None:
    """This month's progress of a linked ASN, or None (not linked, or the programme service is
    down: the page that shows the card still works)."""
    try:
        found: dict[str, Any] = await api.get(session, "programme", "/programme/me/progress")
    except (BackendError, SignInRequired):
        return None
    return found | {"month_name": month_name(found["month"])}


@router.get("/asn")
async def asn_home(request: Request, session: Shopper) -> Response:
    return await _asn_page(request, session, "", None)


async def _asn_page(request: Request, session: Session, nip: str, error: str | None) -> Response:
    api = backend(request)
    me = await api.get(session, "programme", "/programme/me")
    progress: dict[str, Any] | None = None
    months: list[dict[str, Any]] = []
    if me["status"] == "linked":
        found, past = await asyncio.gather(
            api.get(session, "programme", "/programme/me/progress"), api.get(session, "programme", "/programme/me/months")
        )
        progress = found | {"month_name": month_name(found["month"])}
        months = [m | {"month_name": month_name(m["month"])} for m in past if m["month"] != found["month"]]
    return page(
        request,
        "asn/progress.html",
        422 if error else 200,
        title="ASN Beli NTT",
        me=me,
        status_text=CLAIM_STATUS.get(me["status"]),
        progress=progress,
        months=months,
        nip=nip,
        error=error,
    )


@router.post("/asn/klaim")
async def claim(request: Request, session: Shopper) -> Response:
    nip = text(await request.form(), "nip")
    if not nip:
        return await _asn_page(request, session, nip, "Isi NIP Anda (18 angka).")
    try:
        claimed = await backend(request).call(session, "POST", "programme", "/programme/me/nip", json={"nip": nip})
    except BackendError as refused:
        if _fatal(refused):
            raise
        return await _asn_page(request, session, nip, f"NIP tidak dapat diklaim: {refused.message}.")
    if claimed["status"] == "linked":
        current_session(request).flash(f"NIP {claimed['nip']} terhubung atas nama {claimed['name']}.", "success")
    else:
        current_session(request).flash(
            f"Klaim NIP {claimed['nip']} dikirim ke OPD Anda. Data kontak di daftar ASN tidak sama dengan akun ini, "
            "jadi OPD perlu menyetujuinya.",
            "info",
        )
    return RedirectResponse("/asn", status_code=303)
