"""Gerakan Beli NTT for an OPD's officer (and the programme office): the OPD's compliance for a
month, its ASN below the commitment, NIP claims to approve or refuse, and the exports.

The programme service decides who sees what: an OPD officer's token carries its OPD, and asking
for another OPD answers 404. These pages show such answers as a plain message, never a 500.
The programme office's own pages (dashboard, compliance of every government, commitment
versions) are in `programme_office.py`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from beli_runtime.clock import utcnow
from web.backend import BackendError
from web.dashboard import current_period, month_name, shift_period
from web.deps import backend
from web.render import page
from web.security import require_user
from web.sessions import Session, current_session

router = APIRouter(prefix="/program")
OFFICE_ROLES = ("programme", "admin")
OpdOrOffice = Annotated[Session, Depends(require_user("opd", *OFFICE_ROLES))]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FORMATS = ("csv", "xlsx")


def chosen_month(value: str | None) -> str:
    return value if value and MONTH.match(value) else current_period(utcnow())


def month_links(month: str) -> dict[str, Any]:
    """The month being shown and its neighbours (no month after this one: nothing is counted there yet)."""
    this_month = current_period(utcnow())
    return {
        "month": month,
        "month_name": month_name(month),
        "previous_month": shift_period(month, -1),
        "next_month": shift_period(month, 1) if month < this_month else None,
        "months": [shift_period(this_month, -offset) for offset in range(12)],
        "month_label": month_name,
    }


def section_of(session: Session) -> str:
    return "opd" if session.role == "opd" else "programme"


def refused_page(request: Request, error: BackendError) -> Response:
    """A 403/404 of the programme service as a page that says why, in the officer's words."""
    if error.status == 404:
        message = "OPD atau data ini tidak ditemukan, atau bukan bagian dari OPD Anda."
        return page(request, "error.html", 404, title="Tidak ditemukan", message=message)
    message = error.message if error.status == 403 else f"Permintaan ditolak: {error.message}"
    return page(request, "error.html", error.status, title="Tidak diizinkan", message=message)


def fatal(error: BackendError) -> bool:
    return error.status in (0, 401) or error.status >= 500


@router.get("/opd")
async def my_opd(request: Request, session: OpdOrOffice) -> Response:
    """An officer's landing page is its own OPD; the office chooses an OPD from the compliance list."""
    if session.role != "opd":
        return RedirectResponse("/program/kepatuhan", status_code=303)
    opd_id = (session.account or {}).get("opd_id")
    if not opd_id:
        message = "Akun OPD ini belum terhubung dengan sebuah OPD. Hubungi operator Beli NTT."
        return page(request, "error.html", 403, title="Tidak diizinkan", message=message)
    return RedirectResponse(f"/program/opd/{opd_id}", status_code=303)


@router.get("/opd/{opd_id}")
async def opd_detail(request: Request, session: OpdOrOffice, opd_id: str, month: str | None = None) -> Response:
    month = chosen_month(month)
    api = backend(request)
    try:
        below = await api.get(session, "programme", f"/programme/compliance/opds/{opd_id}/below", month=month)
        report = await api.get(session, "programme", "/programme/compliance/opds", month=month)
        pending = await api.get(session, "programme", "/programme/claims", status="pending", limit=100)
    except BackendError as error:
        if fatal(error):
            raise
        return refused_page(request, error)
    row = next((r for r in report["rows"] if r["key"] == opd_id), None)
    return page(
        request,
        "programme/opd.html",
        title=f"Kepatuhan {row['name'] if row else opd_id}",
        section=section_of(session),
        opd_id=opd_id,
        row=row,
        commitment=below["commitment"],
        below=below["items"],
        pending=[c for c in pending if c["opd_id"] == opd_id],
        **month_links(month),
    )


@router.get("/klaim")
async def claims(request: Request, session: OpdOrOffice) -> Response:
    try:
        pending = await backend(request).get(session, "programme", "/programme/claims", status="pending", limit=100)
    except BackendError as error:
        if fatal(error):
            raise
        return refused_page(request, error)
    return page(request, "programme/claims.html", title="Klaim NIP", section=section_of(session), claims=pending)


@router.post("/klaim/{claim_id}/{decision}")
async def decide(request: Request, session: OpdOrOffice, claim_id: str, decision: str) -> Response:
    actions = {"setujui": ("approve", "disetujui"), "tolak": ("reject", "ditolak")}
    if decision not in actions:
        return page(request, "error.html", 404, title="Tidak ditemukan", message="Halaman yang Anda cari tidak ada.")
    action, done = actions[decision]
    flash = current_session(request).flash
    try:
        claim = await backend(request).call(session, "POST", "programme", f"/programme/claims/{claim_id}/{action}")
    except BackendError as error:
        if fatal(error):
            raise
        flash(f"Klaim tidak dapat diputuskan: {error.message}.", "error")
        return RedirectResponse("/program/klaim", status_code=303)
    flash(f"Klaim NIP {claim['nip']} atas nama {claim['name']} {done}.", "success")
    return RedirectResponse("/program/klaim", status_code=303)


@router.get("/ekspor/opd")
async def export_opds(request: Request, session: OpdOrOffice, month: str | None = None, format: str = "xlsx") -> Response:
    params = {"month": chosen_month(month), "format": format if format in FORMATS else "xlsx"}
    government = request.query_params.get("government")
    if government:
        params["government"] = government
    return await download(request, session, "/programme/compliance/exports/opds", params)


@router.get("/ekspor/opd/{opd_id}/belum")
async def export_below(request: Request, session: OpdOrOffice, opd_id: str, month: str | None = None, format: str = "xlsx") -> Response:
    params = {"month": chosen_month(month), "format": format if format in FORMATS else "xlsx"}
    return await download(request, session, f"/programme/compliance/opds/{opd_id}/below/export", params)


async def download(request: Request, session: Session, path: str, params: dict[str, str]) -> Response:
    """The programme service's file passed through as a download, under the name it gave it."""
    try:
        answer = await backend(request).call(session, "GET", "programme", path, params=params, raw=True)
    except BackendError as error:
        if fatal(error):
            raise
        return refused_page(request, error)
    disposition = answer.headers.get("content-disposition") or f'attachment; filename="program-beli-ntt.{params["format"]}"'
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
