"""Operator console: sellers waiting for verification, levy rules and their versions, dead
letters of every service with replay, failed message deliveries with resend."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from beli_contracts.reference import CATEGORIES, REGENCIES
from web.backend import Backend, BackendError
from web.deps import backend
from web.render import page
from web.security import require_user
from web.sessions import Session, current_session
from web.staff_forms import FormProblem, effective_from, mask, percent, rate_bps, text

router = APIRouter(prefix="/operator")
AdminSession = Annotated[Session, Depends(require_user("admin"))]
SERVICES = ("catalog", "orders", "payments", "notifications")


def _fatal(error: BackendError) -> bool:
    return error.status in (0, 401) or error.status >= 500


def masked_seller(seller: dict[str, Any]) -> dict[str, Any]:
    """The catalog masks the NIK and the account number; the NIB too is shown only by its end."""
    bank = seller.get("bank_account")
    return seller | {
        "nik": mask(seller.get("nik")),
        "nib": mask(seller.get("nib")),
        "bank_account": bank and bank | {"account_number": mask(bank.get("account_number"))},
    }


@router.get("")
async def console(request: Request, session: AdminSession) -> Response:
    api = backend(request)
    pending = await api.get(session, "catalog", "/admin/sellers", status="pending", limit=200)
    letters = await _dead_letters(api, session)
    failed = await api.get(session, "notifications", "/admin/notifications/deliveries", status="failed", limit=500)
    return page(
        request,
        "operator/console.html",
        title="Konsol operator",
        pending=len(pending),
        dead=sum(len(rows) for rows in letters.values() if isinstance(rows, list)),
        unreachable=[name for name, rows in letters.items() if not isinstance(rows, list)],
        failed=len(failed),
    )


@router.get("/penjual")
async def sellers(request: Request, session: AdminSession) -> Response:
    queue = await backend(request).get(session, "catalog", "/admin/sellers", status="pending", limit=200)
    return page(request, "operator/sellers.html", title="Verifikasi penjual", sellers=[masked_seller(s) for s in queue])


@router.post("/penjual/{seller_id}/verifikasi")
async def verify(request: Request, seller_id: str, session: AdminSession) -> Response:
    seller = await backend(request).call(session, "POST", "catalog", f"/admin/sellers/{seller_id}/verify")
    current_session(request).flash(f"{seller['name']} terverifikasi: produknya kini tampil untuk pembeli.", "success")
    return RedirectResponse("/operator/penjual", status_code=303)


@router.get("/aturan-pad")
async def rules(request: Request, session: AdminSession) -> Response:
    return await _rules_page(request, session, {}, {})


async def _rules_page(
    request: Request, session: Session, values: dict[str, str], errors: dict[str, str], error: str | None = None
) -> Response:
    found = await backend(request).get(session, "payments", "/admin/levy-rules")
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for version in found["items"]:
        by_rule[version["rule_id"]].append(version)
    groups: list[dict[str, Any]] = [
        {"rule_id": rule_id, "versions": sorted(versions, key=lambda v: v["version"], reverse=True)}
        for rule_id, versions in sorted(by_rule.items())
    ]
    return page(
        request,
        "operator/rules.html",
        400 if errors or error else 200,
        title="Aturan PAD",
        default_rate=percent(found["default_rate_bps"]),
        rules=groups,
        percent=percent,
        values=values,
        errors=errors,
        error=error,
        regencies=[(r, r) for r in REGENCIES],
        categories=list(CATEGORIES.items()),
    )


@router.post("/aturan-pad")
async def new_rule(request: Request, session: AdminSession) -> Response:
    form = await request.form()
    values = {name: text(form, name) for name in ("rate_percent", "category", "regency", "effective_from", "reason")}
    try:
        body = {
            "rate_bps": rate_bps(form),
            "category": values["category"] or None,
            "regency": values["regency"] or None,
            "effective_from": effective_from(form),
            "reason": values["reason"],
        }
        rule = await backend(request).call(
            session, "POST", "payments", "/admin/levy-rules", json={k: v for k, v in body.items() if v is not None}
        )
    except FormProblem as problem:
        return await _rules_page(request, session, values, {problem.field: problem.message})
    except BackendError as refused:
        if _fatal(refused):
            raise
        errors = {("rate_percent" if name == "rate_bps" else name): message for name, message in refused.field_errors().items()}
        return await _rules_page(request, session, values, errors, None if errors else refused.message)
    current_session(request).flash(f"Aturan {rule['rule_id']} versi {rule['version']} ({percent(rule['rate_bps'])}) tersimpan.", "success")
    return RedirectResponse("/operator/aturan-pad", status_code=303)


async def _dead_letters(api: Backend, session: Session) -> dict[str, list[dict[str, Any]] | str]:
    """Each service's dead letters; a service that does not answer is named, not fatal."""

    async def one(service: str) -> list[dict[str, Any]] | str:
        try:
            return await api.get(session, service, "/admin/dead-letters", status="dead", limit=200)
        except BackendError as error:
            if error.status == 401:
                raise
            return error.message

    answers = await asyncio.gather(*(one(service) for service in SERVICES))
    return dict(zip(SERVICES, answers, strict=True))


@router.get("/surat-mati")
async def dead_letters(request: Request, session: AdminSession) -> Response:
    letters = await _dead_letters(backend(request), session)
    return page(request, "operator/dead_letters.html", title="Event gagal diproses", letters=letters)


@router.post("/surat-mati/{service}/{letter_id}/ulang")
async def replay(request: Request, service: str, letter_id: str, session: AdminSession) -> Response:
    flash = current_session(request).flash
    if service not in SERVICES:
        flash("Layanan tidak dikenal.", "error")
        return RedirectResponse("/operator/surat-mati", status_code=303)
    try:
        result = await backend(request).call(session, "POST", service, f"/admin/dead-letters/{letter_id}/replay")
    except BackendError as error:
        if error.status == 401:
            raise
        flash(f"Event {letter_id} belum dapat diulang: {error.message}", "error")
        return RedirectResponse("/operator/surat-mati", status_code=303)
    if result["replayed"]:
        flash(f"Event {letter_id} berhasil diproses ulang oleh {service}.", "success")
    else:
        flash(f"Event {letter_id} gagal lagi: {result['error']}", "error")
    return RedirectResponse("/operator/surat-mati", status_code=303)


@router.get("/pengiriman-gagal")
async def failed_deliveries(request: Request, session: AdminSession) -> Response:
    found = await backend(request).get(session, "notifications", "/admin/notifications/deliveries", status="failed", limit=200)
    return page(request, "operator/deliveries.html", title="Pesan gagal terkirim", deliveries=found)


@router.post("/pengiriman-gagal/{delivery_id}/kirim-ulang")
async def resend(request: Request, delivery_id: str, session: AdminSession) -> Response:
    flash = current_session(request).flash
    try:
        await backend(request).call(session, "POST", "notifications", f"/admin/notifications/deliveries/{delivery_id}/resend")
    except BackendError as error:
        if _fatal(error):
            raise
        flash(f"Pesan belum dikirim ulang: {error.message}", "error")
        return RedirectResponse("/operator/pengiriman-gagal", status_code=303)
    flash("Pesan dijadwalkan untuk dikirim ulang.", "success")
    return RedirectResponse("/operator/pengiriman-gagal", status_code=303)
