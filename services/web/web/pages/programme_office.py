"""The programme office (role `programme`; operators too): the programme dashboard, compliance
per OPD, per regency/city government and for the province, and the commitment amount's versions.

Every figure comes from the programme service's read models; the charts are drawn on the server
(`web/charts.py`) with their data as tables.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import BackendError
from web.dashboard import month_name, shift_period
from web.deps import backend
from web.pages.programme import FORMATS, OFFICE_ROLES, chosen_month, download, fatal, month_links, refused_page
from web.programme_charts import gmv_by_month, month_rows, percent, spending_by_regency
from web.render import page, rupiah
from web.security import require_user
from web.sessions import Session, current_session
from web.staff_forms import FormProblem, text, whole_number

router = APIRouter(prefix="/program")
Office = Annotated[Session, Depends(require_user(*OFFICE_ROLES))]
TREND_MONTHS = 6


@router.get("")
async def dashboard(request: Request, session: Office, month: str | None = None) -> Response:
    month = chosen_month(month)
    api = backend(request)
    # The first call refreshes an expired token; the other months then run side by side.
    shown = await api.get(session, "programme", "/programme/dashboard", month=month)
    earlier = await asyncio.gather(
        *(api.get(session, "programme", "/programme/dashboard", month=shift_period(month, -n)) for n in range(TREND_MONTHS - 1, 0, -1))
    )
    months = [*earlier, shown]
    return page(
        request,
        "programme/dashboard.html",
        title=f"Dasbor Gerakan Beli NTT {month_links(month)['month_name']}",
        section="programme",
        figures=shown,
        percent=percent,
        charts={"gmv": gmv_by_month(months), "regency": spending_by_regency(shown)},
        rows=month_rows(months),
        **month_links(month),
    )


@router.get("/kepatuhan")
async def compliance(request: Request, session: Office, month: str | None = None, government: str | None = None) -> Response:
    month = chosen_month(month)
    api = backend(request)
    governments = await api.get(session, "programme", "/programme/compliance/governments", month=month)
    try:
        opds = await api.get(session, "programme", "/programme/compliance/opds", month=month, government=government)
    except BackendError as error:
        if fatal(error):
            raise
        return refused_page(request, error)
    return page(
        request,
        "programme/compliance.html",
        title="Kepatuhan ASN",
        section="programme",
        governments=governments,
        opds=opds,
        government=government or "",
        commitment=governments["commitment"],
        **month_links(month),
    )


@router.get("/ekspor/pemda")
async def export_governments(request: Request, session: Office, month: str | None = None, format: str = "xlsx") -> Response:
    params = {"month": chosen_month(month), "format": format if format in FORMATS else "xlsx"}
    return await download(request, session, "/programme/compliance/exports/governments", params)


@router.get("/komitmen")
async def commitments(request: Request, session: Office) -> Response:
    return await _commitments_page(request, session, {}, {})


async def _commitments_page(
    request: Request, session: Session, values: dict[str, str], errors: dict[str, str], error: str | None = None
) -> Response:
    versions = await backend(request).get(session, "programme", "/programme/commitments")
    return page(
        request,
        "programme/commitments.html",
        400 if errors or error else 200,
        title="Komitmen belanja ASN",
        section="programme",
        versions=sorted(versions, key=lambda v: v["effective_month"], reverse=True),
        values=values,
        errors=errors,
        error=error,
        default_month=shift_period(chosen_month(None), 1),
        **month_links(chosen_month(None)),
    )


@router.post("/komitmen")
async def new_commitment(request: Request, session: Office) -> Response:
    form = await request.form()
    values = {name: text(form, name) for name in ("amount", "effective_month", "reason")}
    try:
        body: dict[str, Any] = {
            "amount": whole_number(form, "amount", required=True, label="Jumlah komitmen"),
            "effective_month": values["effective_month"],
            "reason": values["reason"],
        }
        version = await backend(request).call(session, "POST", "programme", "/programme/commitments", json=body)
    except FormProblem as problem:
        return await _commitments_page(request, session, values, {problem.field: problem.message})
    except BackendError as refused:
        if fatal(refused):
            raise
        errors = refused.field_errors()
        return await _commitments_page(request, session, values, errors, None if errors else refused.message)
    flash = current_session(request).flash
    flash(f"Komitmen {rupiah(version['amount'])} per ASN berlaku mulai {month_name(version['effective_month'])} tersimpan.", "success")
    return RedirectResponse("/program/komitmen", status_code=303)
