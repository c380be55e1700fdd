"""Rendering a page: the Jinja2 environment, its filters, and what every page gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from beli_contracts.reference import CATEGORIES
from web.sessions import current_session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
WITA = timezone(timedelta(hours=8), "WITA")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def rupiah(amount: float | None) -> str:
    """Rp150.000: dots between thousands, no decimals (money is integer Rupiah)."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(amount)):,}".replace(",", ".")


def wita(value: str | datetime | None, with_time: bool = True) -> str:
    """A stored UTC time as people in NTT read it: 23 Nov 2026 17.05 WITA."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(WITA)
    day = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{day} {local:%H.%M} WITA" if with_time else day


def category_label(key: str | None) -> str:
    return CATEGORIES.get(key or "", key or "-")


TEMPLATES.env.filters["rupiah"] = rupiah
TEMPLATES.env.filters["wita"] = wita
TEMPLATES.env.filters["category_label"] = category_label


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` with the session's user, CSRF token and flash messages."""
    session = current_session(request)
    base = {
        "request": request,
        "user": session.account,
        "csrf_token": session.csrf,
        "flashes": session.pop_flashes(),
        "unread_count": getattr(request.state, "unread_count", None),
        "cart_count": getattr(request.state, "cart_count", None),
    }
    response = TEMPLATES.TemplateResponse(request, template, base | context, status_code=status_code)
    # Pages carry personal data and a CSRF token: never cached by shared caches.
    response.headers["Cache-Control"] = "private, no-cache"
    return response
