"""Finance office: the ledger's tamper check, the gross identity, reconciliation with Midtrans,
and closing a month (a confirmation page first: a closing cannot be undone)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from beli_runtime.clock import utcnow
from web.backend import BackendError
from web.dashboard import current_period, month_days, month_name, shift_period
from web.deps import backend
from web.pages.finance import DAY, MONTH, FinanceSession
from web.render import page
from web.sessions import current_session
from web.staff_forms import text

router = APIRouter(prefix="/keuangan")


@router.get("/pemeriksaan")
async def checks(request: Request, session: FinanceSession) -> Response:
    """Chain verification always; the gross identity and reconciliation for the chosen days
    (default: last month, the one usually being closed)."""
    params = request.query_params
    default_from, default_to = month_days(shift_period(current_period(utcnow()), -1))
    date_from = params["from"] if DAY.match(params.get("from", "")) else default_from
    date_to = params["to"] if DAY.match(params.get("to", "")) else default_to
    api = backend(request)
    verdict = await api.get(session, "payments", "/finance/verify")
    error = None
    if date_from > date_to:
        error, identity, reconciliation = "Tanggal awal sesudah tanggal akhir.", None, None
    else:
        identity = await api.get(session, "payments", "/finance/checks/gross-identity", **{"from": date_from, "to": date_to})
        try:
            reconciliation = await api.get(session, "payments", "/finance/reconciliation", **{"from": date_from, "to": date_to})
        except BackendError as refused:
            if refused.status != 422:
                raise
            error, reconciliation = refused.message, None  # e.g. too many payments: ask for a shorter range
    return page(
        request,
        "finance/checks.html",
        title="Pemeriksaan buku besar",
        verdict=verdict,
        identity=identity,
        reconciliation=reconciliation,
        date_from=date_from,
        date_to=date_to,
        error=error,
    )


@router.get("/tutup-buku")
async def closings(request: Request, session: FinanceSession) -> Response:
    found = await backend(request).get(session, "payments", "/finance/periods")
    closed = {c["period"] for c in found["items"]}
    this_month = current_period(utcnow())
    candidates = [p for p in (shift_period(this_month, -offset) for offset in range(1, 13)) if p not in closed]
    return page(
        request,
        "finance/closings.html",
        title="Tutup buku",
        closings=sorted(found["items"], key=lambda c: c["period"], reverse=True),
        candidates=candidates,
        month_name=month_name,
    )


@router.get("/tutup-buku/konfirmasi")
async def confirm_closing(request: Request, session: FinanceSession, period: str = "") -> Response:
    """What closing the month will store, read from the ledger, before the officer confirms."""
    if not MONTH.match(period):
        current_session(request).flash("Pilih bulan yang akan ditutup.", "error")
        return RedirectResponse("/keuangan/tutup-buku", status_code=303)
    api = backend(request)
    summary = await api.get(session, "payments", "/finance/summary", group_by="regency", period=period)
    verdict = await api.get(session, "payments", "/finance/verify")
    return page(
        request,
        "finance/close_confirm.html",
        title=f"Tutup buku {month_name(period)}?",
        period=period,
        period_name=month_name(period),
        totals=summary["totals"],
        verdict=verdict,
        ended=period < current_period(utcnow()),
    )


@router.post("/tutup-buku")
async def close(request: Request, session: FinanceSession) -> Response:
    form = await request.form()
    period, note = text(form, "period"), text(form, "note")
    flash = current_session(request).flash
    if text(form, "confirm") != "ya":
        flash("Tutup buku dibatalkan: centang konfirmasi terlebih dahulu.", "error")
        return RedirectResponse(f"/keuangan/tutup-buku/konfirmasi?period={period}", status_code=303)
    try:
        closing = await backend(request).call(session, "POST", "payments", f"/finance/periods/{period}/close", json={"note": note[:500]})
    except BackendError as error:
        if error.status in (0, 401) or error.status >= 500:
            raise
        flash(f"Bulan {period} tidak dapat ditutup: {error.message}", "error")
        return RedirectResponse("/keuangan/tutup-buku", status_code=303)
    flash(f"Buku {month_name(closing['period'])} ditutup: {closing['entries']} entri, ujung rantai #{closing['head_sequence']}.", "success")
    return RedirectResponse("/keuangan/tutup-buku", status_code=303)
