"""HTTP routes: the provider API the notifications service calls, the readers for what arrived,
and /simulator controls (faults, reset)."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from . import pages
from .settings import Settings
from .smtp import readable
from .store import Fault, State, StoredResponse, fingerprint, utcnow, validate_message

router = APIRouter()


def _state(request: Request) -> State:
    state: State = request.app.state.messaging
    return state


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


@router.post("/v1/messages", tags=["provider"], summary="Send a WhatsApp or SMS message")
async def send_message(request: Request) -> JSONResponse:
    """Bearer token auth; `Idempotency-Key` makes a retry return the first answer, not a second
    message; the same key with another body is refused (409)."""
    state, settings = _state(request), _settings(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.api_token.encode()):
        return _error(401, "unauthorized", "missing or wrong bearer token")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _error(400, "invalid_json", "body is not JSON")
    key = request.headers.get("idempotency-key")
    to = body.get("to") if isinstance(body, dict) else None
    state.requests.append({"to": to, "idempotency_key": key, "at": utcnow().isoformat()})
    fault = state.fault_for("http", [str(to)])
    if fault is not None and fault.status is not None:
        if fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        return _error(fault.status, "injected_fault", f"simulated provider failure (HTTP {fault.status})")
    clean, problem = validate_message(body)
    if clean is None:
        code = "invalid_recipient" if problem and "'to'" in problem else "invalid_request"
        return _error(400, code, problem or "invalid request")
    if key:
        stored = state.idempotency.get(key)
        if stored is not None:
            if stored.fingerprint != fingerprint(clean):
                return _error(409, "idempotency_key_reused", "Idempotency-Key was used with a different body")
            return JSONResponse(stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"})
    message = state.accept_message(clean["channel"], clean["to"], clean["text"], clean["reference"], key)
    answer = {"id": message["id"], "status": "queued", "channel": message["channel"], "to": message["to"]}
    if key:
        state.remember(key, StoredResponse(fingerprint(clean), 201, answer))
    if fault is not None and fault.delay_seconds:
        # Accepted, but the answer is late: the caller may time out or crash and retry.
        await asyncio.sleep(fault.delay_seconds)
    return JSONResponse(answer, status_code=201)


def _matching(items: list[dict[str, Any]], limit: int, **filters: str | None) -> list[dict[str, Any]]:
    def keep(item: dict[str, Any]) -> bool:
        for name, wanted in filters.items():
            if wanted is None:
                continue
            value = item.get(name)
            if isinstance(value, list) and wanted not in value:
                return False
            if not isinstance(value, list) and value != wanted:
                return False
        return True

    return [item for item in reversed(items) if keep(item)][:limit]


@router.get("/v1/messages", tags=["read"], summary="WhatsApp/SMS messages received, newest first")
async def list_messages(
    request: Request,
    to: str | None = None,
    channel: str | None = None,
    reference: str | None = None,
    limit: int = Query(100, ge=1, le=20_000),
) -> list[dict[str, Any]]:
    return _matching(list(_state(request).messages), limit, to=to, channel=channel, reference=reference)


@router.get("/mail", tags=["read"], summary="E-mail received over SMTP, newest first")
async def list_mail(request: Request, to: str | None = None, limit: int = Query(100, ge=1, le=20_000)) -> list[dict[str, Any]]:
    return [readable(mail) for mail in _matching(list(_state(request).mail), limit, to=to)]


@router.get("/mail/count", tags=["read"], summary="How many e-mails arrived (cheap, for benchmarks)")
async def count_mail(request: Request) -> dict[str, Any]:
    mail = _state(request).mail
    return {"count": len(mail), "first_at": mail[0]["received_at"] if mail else None, "last_at": mail[-1]["received_at"] if mail else None}


@router.get("/simulator/requests", tags=["simulator"], summary="Every provider API call, accepted or not")
async def list_requests(request: Request, to: str | None = None, limit: int = Query(1000, ge=1, le=20_000)) -> list[dict[str, Any]]:
    return _matching(list(_state(request).requests), limit, to=to)


class FaultIn(BaseModel):
    target: Literal["http", "smtp"] = "http"
    status: int | None = Field(503, description="HTTP status or SMTP reply code; null = only delay")
    count: int | None = Field(None, ge=1, description="How many requests; null = until cleared")
    to: str | None = Field(None, description="Only requests to this phone number / e-mail address")
    delay_seconds: float = Field(0.0, ge=0, le=120)


@router.post("/simulator/faults", tags=["simulator"], summary="Make the provider or the mailbox fail or lag")
async def add_fault(fault: FaultIn, request: Request) -> dict[str, Any]:
    added = Fault(target=fault.target, status=fault.status, remaining=fault.count, to=fault.to, delay_seconds=fault.delay_seconds)
    _state(request).faults.append(added)
    return added.as_dict()


@router.get("/simulator/faults", tags=["simulator"])
async def list_faults(request: Request) -> list[dict[str, Any]]:
    return [fault.as_dict() for fault in _state(request).faults]


@router.delete("/simulator/faults", tags=["simulator"], summary="The provider and the mailbox work again")
async def clear_faults(request: Request) -> dict[str, Any]:
    state = _state(request)
    cleared = len(state.faults)
    state.faults.clear()
    return {"cleared": cleared}


@router.post("/simulator/reset", tags=["simulator"], summary="Forget everything received")
async def reset(request: Request) -> dict[str, str]:
    _state(request).reset()
    return {"status": "reset"}


@router.get("/", response_class=HTMLResponse, tags=["read"], summary="What was sent, for people")
async def home(request: Request, limit: int = Query(50, ge=1, le=1000)) -> HTMLResponse:
    state = _state(request)
    return HTMLResponse(
        pages.home([readable(mail) for mail in list(state.mail)[-limit:][::-1]], list(state.messages)[-limit:][::-1], _settings(request))
    )


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
