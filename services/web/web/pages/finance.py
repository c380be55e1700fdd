"""Finance office: the PAD dashboard (charts drawn on the server), the ledger with filters and
pages, and the exports as downloads. Checks and month closing are in `finance_checks.py`.

The payments service owns every figure; these pages only ask it (as the signed-in finance
officer) and draw what it answers.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from beli_contracts.reference import CATEGORIES, REGENCIES
from beli_runtime.clock import utcnow
from web.dashboard import current_period, levy_per_category, levy_per_day, levy_per_regency, month_name, shift_period, top_sellers
from web.deps import backend
from web.render import page
from web.security import require_user
from web.sessions import Session

router = APIRouter(prefix="/keuangan")
FinanceSession = Annotated[Session, Depends(require_user("finance", "admin"))]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DAY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
LEDGER_FILTERS = ("from", "to", "period", "regency", "seller_id", "category", "order_id", "kind")
PAGE_SIZE = 50
GROUPS = {
    "regency": "kabupaten/kota",
    "category": "kategori",
    "seller": "penjual",
    "day": "hari",
    "month": "bulan",
    "channel": "kanal penjualan (online / outlet NTT Mart)",
}


def _period(value: str | None) -> str:
    return value if value and MONTH.match(value) else current_period(utcnow())


@router.get("")
async def dashboard(request: Request, session: FinanceSession, period: str | None = None) -> Response:
    period = _period(period)
    api = backend(request)
    groups = ("day", "regency", "category", "seller")
    # The first call refreshes an expired token; the other three then run side by side.
    first = await api.get(session, "payments", "/finance/summary", group_by=groups[0], period=period)
    rest = await asyncio.gather(*(api.get(session, "payments", "/finance/summary", group_by=g, period=period) for g in groups[1:]))
    summaries: dict[str, Any] = dict(zip(groups, [first, *rest], strict=True))
    this_month = current_period(utcnow())
    return page(
        request,
        "finance/dashboard.html",
        title=f"Dasbor PAD {month_name(period)}",
        period=period,
        period_name=month_name(period),
        previous_period=shift_period(period, -1),
        next_period=shift_period(period, 1) if period < this_month else None,
        totals=summaries["regency"]["totals"],
        sellers=len(summaries["seller"]["rows"]),
        charts={
            "day": levy_per_day(period, summaries["day"]["rows"]),
            "regency": levy_per_regency(summaries["regency"]["rows"]),
            "category": levy_per_category(summaries["category"]["rows"]),
            "seller": top_sellers(summaries["seller"]["rows"]),
        },
    )


def ledger_query(params: dict[str, str]) -> dict[str, str]:
    """The filters the user filled in, checked for shape here so that a typo shows next to its
    field instead of as an error page from the service."""
    query = {name: params[name].strip() for name in LEDGER_FILTERS if params.get(name, "").strip()}
    for name in ("from", "to"):
        if name in query and not DAY.match(query[name]):
            query.pop(name)
    if "period" in query and not MONTH.match(query["period"]):
        query.pop("period")
    if query.get("kind") not in (None, "levy", "reversal"):
        query.pop("kind")
    return query


@router.get("/buku-besar")
async def ledger(request: Request, session: FinanceSession) -> Response:
    params = dict(request.query_params)
    query = ledger_query(params)
    if not query:
        query = {"period": current_period(utcnow())}
    after = params.get("after", "")
    found = await backend(request).get(
        session, "payments", "/finance/ledger", **query, after=after if after.isdigit() else None, limit=PAGE_SIZE
    )
    totals = (await backend(request).get(session, "payments", "/finance/summary", group_by="month", **query))["totals"]
    return page(
        request,
        "finance/ledger.html",
        title="Buku besar PAD",
        filters=query,
        entries=found["items"],
        totals=totals,
        next_url=f"/keuangan/buku-besar?{urlencode(query | {'after': found['next_cursor']})}" if found["next_cursor"] else None,
        first_url=f"/keuangan/buku-besar?{urlencode(query)}" if after else None,
        export_query=urlencode(query),
        regencies=[(r, r) for r in REGENCIES],
        categories=list(CATEGORIES.items()),
    )


@router.get("/ekspor")
async def exports(request: Request, session: FinanceSession, period: str | None = None) -> Response:
    period = _period(period)
    months = [shift_period(current_period(utcnow()), -offset) for offset in range(0, 12)]
    return page(request, "finance/exports.html", title="Ekspor", period=period, months=months, month_name=month_name, groups=GROUPS)


@router.get("/ekspor/buku-besar")
async def export_ledger(request: Request, session: FinanceSession, format: str = "xlsx") -> Response:
    query = ledger_query(dict(request.query_params))
    return await _download(request, session, "/finance/exports/ledger", query | {"format": _format(format)})


@router.get("/ekspor/ringkasan")
async def export_summary(request: Request, session: FinanceSession, group_by: str = "regency", format: str = "xlsx") -> Response:
    query = ledger_query(dict(request.query_params))
    group = group_by if group_by in GROUPS else "regency"
    return await _download(request, session, "/finance/exports/summary", query | {"group_by": group, "format": _format(format)})


def _format(value: str) -> str:
    return value if value in ("csv", "xlsx") else "xlsx"


async def _download(request: Request, session: Session, path: str, params: dict[str, str]) -> Response:
    """The service's file passed through as a download, named for the filter it covers."""
    answer = await backend(request).call(session, "GET", "payments", path, params=params, raw=True)
    scope = params.get("period") or "-".join(filter(None, (params.get("from"), params.get("to")))) or "semua"
    base = "buku-besar-pad" if path.endswith("ledger") else f"ringkasan-pad-{params.get('group_by', 'regency')}"
    name = re.sub(r"[^A-Za-z0-9._-]", "", f"{base}-{scope}.{params['format']}")
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )
