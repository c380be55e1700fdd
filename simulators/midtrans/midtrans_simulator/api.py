"""HTTP routes: the Midtrans endpoints our payments service calls, plus /simulator controls."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import pages
from .domain import (
    CREATED,
    PAYABLE_STATUSES,
    PAYMENT_TYPES,
    InvalidRefund,
    MerchantCannotModify,
    TransitionRefused,
    ValidationFailed,
    apply_cancel,
    apply_payment,
    apply_refund,
    new_transaction,
    status_body,
)
from .validation import validate_snap_request

if TYPE_CHECKING:
    from .main import Simulator

router = APIRouter()

UNAUTHORIZED = "Access denied due to unauthorized transaction, please check client or server key"
NOT_FOUND = {"status_code": "404", "status_message": "Transaction doesn't exist."}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def _authorized(request: Request, server_key: str) -> bool:
    """HTTP Basic with the server key as user name and an empty password, as Midtrans wants."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, colon, password = decoded.partition(":")
    return colon == ":" and password == "" and hmac.compare_digest(user.encode(), server_key.encode())


def _core_unauthorized() -> JSONResponse:
    return JSONResponse({"status_code": "401", "status_message": UNAUTHORIZED}, status_code=401)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return await request.json()
    except ValueError:
        return None


# -- Snap -------------------------------------------------------------------------------------


@router.post("/snap/v1/transactions")
async def create_snap_transaction(request: Request) -> JSONResponse:
    sim = _sim(request)
    # An outage happens before auth or validation, so the fault is checked first.
    fault = await sim.take_snap_fault()
    if fault is not None:
        sim.snap_creates.labels("fault").inc()
        message = "Sorry, we encountered internal server error. We will fix this soon."
        return JSONResponse({"error_messages": [message]}, status_code=fault)
    if not _authorized(request, sim.settings.server_key):
        sim.snap_creates.labels("unauthorized").inc()
        return JSONResponse({"error_messages": [UNAUTHORIZED]}, status_code=401)
    payload = await _json_body(request)
    try:
        snap = validate_snap_request(payload if payload is not None else "not json")
    except ValidationFailed as exc:
        sim.snap_creates.labels("rejected").inc()
        return JSONResponse({"error_messages": exc.messages}, status_code=400)
    async with sim.lock:
        if snap.order_id in sim.transactions:
            sim.snap_creates.labels("rejected").inc()
            return JSONResponse(
                {"error_messages": ["transaction_details.order_id sudah digunakan"]},
                status_code=400,
            )
        tx = new_transaction(snap, utcnow(), str(uuid.uuid4()), str(uuid.uuid4()))
        sim.transactions[tx.order_id] = tx
    sim.snap_creates.labels("created").inc()
    delay = await sim.take_snap_delay()
    if delay > 0:
        await asyncio.sleep(delay)
    redirect_url = f"{sim.settings.public_url}/snap/v4/redirection/{tx.token}"
    return JSONResponse({"token": tx.token, "redirect_url": redirect_url}, status_code=201)


# -- Core API ---------------------------------------------------------------------------------


@router.get("/v2/{order_id}/status")
async def transaction_status(order_id: str, request: Request) -> JSONResponse:
    sim = _sim(request)
    delay = await sim.take_status_delay()
    if delay > 0:
        await asyncio.sleep(delay)
    if not _authorized(request, sim.settings.server_key):
        return _core_unauthorized()
    async with sim.lock:
        tx = sim.find(order_id)
        # Until the shopper picks a method Midtrans' Core API has no such transaction.
        if tx is None or tx.status == CREATED:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(status_body(tx, sim.settings.server_key))


@router.post("/v2/{order_id}/cancel")
async def cancel_transaction(order_id: str, request: Request) -> JSONResponse:
    sim = _sim(request)
    if not _authorized(request, sim.settings.server_key):
        return _core_unauthorized()
    async with sim.lock:
        tx = sim.find(order_id)
        if tx is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        try:
            changed = apply_cancel(tx, utcnow())
        except MerchantCannotModify as exc:
            return JSONResponse({"status_code": "412", "status_message": exc.message}, status_code=412)
        record = sim.record_notification(tx, "cancel") if changed else None
        body = status_body(tx, sim.settings.server_key, "Success, transaction is canceled")
    if record is not None:
        # Midtrans notifies asynchronously; blocking here could deadlock a caller that
        # handles the notification while still waiting for this answer.
        await sim.send(record, wait_first=False)
    return JSONResponse(body)


@router.post("/v2/{order_id}/refund")
async def refund_transaction(order_id: str, request: Request) -> JSONResponse:
    sim = _sim(request)
    fault = await sim.take_refund_fault()
    if fault is not None:
        return JSONResponse({"status_code": str(fault), "status_message": "Sorry, we encountered internal server error."}, fault)
    if not _authorized(request, sim.settings.server_key):
        return _core_unauthorized()
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        return JSONResponse({"status_code": "400", "status_message": "body must be a JSON object"}, 400)
    refund_key = payload.get("refund_key")
    if refund_key is not None and not isinstance(refund_key, str):
        return JSONResponse({"status_code": "400", "status_message": "refund_key must be a string"}, 400)
    reason = payload.get("reason")
    async with sim.lock:
        tx = sim.find(order_id)
        if tx is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        try:
            response, changed = apply_refund(
                tx,
                refund_key or f"sim-{uuid.uuid4()}",  # Midtrans generates one when omitted
                payload.get("amount"),
                str(reason) if reason is not None else None,
                utcnow(),
            )
        except MerchantCannotModify as exc:
            return JSONResponse({"status_code": "412", "status_message": exc.message}, status_code=412)
        except InvalidRefund as exc:
            return JSONResponse({"status_code": "400", "status_message": str(exc)}, status_code=400)
        record = sim.record_notification(tx, "refund") if changed else None
    if record is not None:
        await sim.send(record, wait_first=False)
    return JSONResponse(response)


# -- Simulator controls -----------------------------------------------------------------------


async def pay(sim: Simulator, order_id: str, target: str, payment_type: str) -> dict[str, Any]:
    """Shared by the JSON control endpoint and the HTML page's buttons."""
    async with sim.lock:
        tx = sim.find(order_id)
        if tx is None:
            raise KeyError(order_id)
        apply_payment(tx, target, payment_type, utcnow())
        record = sim.record_notification(tx, f"pay:{target}")
    first = await sim.send(record, wait_first=True)
    assert first is not None
    return {
        "notification": record.body,
        "delivered": first.ok,
        "attempts": len(record.attempts),
        "last_status": first.status,
    }


@router.post("/simulator/pay/{order_id}")
async def simulate_payment(order_id: str, request: Request) -> JSONResponse:
    sim = _sim(request)
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        return _error("body must be a JSON object", 400)
    target = payload.get("transaction_status")
    payment_type = payload.get("payment_type") or "qris"
    if target not in PAYABLE_STATUSES:
        return _error(f"transaction_status must be one of {sorted(PAYABLE_STATUSES)}", 400)
    if payment_type not in PAYMENT_TYPES:
        return _error(f"payment_type must be one of {sorted(PAYMENT_TYPES)}", 400)
    try:
        return JSONResponse(await pay(sim, order_id, target, payment_type))
    except KeyError:
        return _error(f"unknown order_id {order_id}", 404)
    except TransitionRefused as exc:
        return _error(str(exc), 409)


@router.post("/simulator/notify/{order_id}")
async def resend_notification(
    order_id: str,
    request: Request,
    times: int = Query(1, ge=1, le=50),
    concurrent: bool = Query(False),
) -> JSONResponse:
    """Re-deliver the current notification, e.g. to prove the receiver is idempotent."""
    sim = _sim(request)
    async with sim.lock:
        tx = sim.find(order_id)
        if tx is None:
            return _error(f"unknown order_id {order_id}", 404)
        if tx.status == CREATED:
            return _error(f"transaction {order_id} has no notification yet (still created)", 409)
        record = sim.record_notification(tx, f"resend x{times}")
    if concurrent:
        attempts = list(await asyncio.gather(*(sim.attempt(record) for _ in range(times))))
    else:
        attempts = [await sim.attempt(record) for _ in range(times)]
    return JSONResponse(
        {
            "notification": record.body,
            "statuses": [a.status for a in attempts],
            "errors": [a.error for a in attempts],
            "delivered": sum(1 for a in attempts if a.ok),
        }
    )


@router.get("/simulator/transactions")
async def list_transactions(request: Request) -> JSONResponse:
    sim = _sim(request)
    async with sim.lock:
        rows = [sim.snapshot(tx) for tx in sim.transactions.values()]
    return JSONResponse({"transactions": rows})


@router.get("/simulator/transactions/{order_id}")
async def get_transaction(order_id: str, request: Request) -> JSONResponse:
    sim = _sim(request)
    async with sim.lock:
        tx = sim.find(order_id)
        if tx is None:
            return _error(f"unknown order_id {order_id}", 404)
        return JSONResponse(sim.snapshot(tx))


@router.delete("/simulator/transactions")
async def forget_transactions(request: Request) -> JSONResponse:
    """Lets a long-running `make dev` simulator start over without a restart."""
    sim = _sim(request)
    async with sim.lock:
        count = len(sim.transactions)
        sim.transactions.clear()
    return JSONResponse({"forgotten": count})


@router.post("/simulator/faults")
async def set_faults(request: Request) -> JSONResponse:
    sim = _sim(request)
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        return _error("body must be a JSON object", 400)
    count = payload.get("count", 1)
    snap_status = payload.get("snap_status")
    refund_status = payload.get("refund_status")
    delay = payload.get("status_delay_seconds")
    snap_delay = payload.get("snap_delay_seconds")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return _error("count must be an integer of at least 1", 400)
    if snap_status is None and refund_status is None and delay is None and snap_delay is None:
        return _error("give snap_status, refund_status, status_delay_seconds and/or snap_delay_seconds", 400)
    for name, status in (("snap_status", snap_status), ("refund_status", refund_status)):
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            return _error(f"{name} must be an HTTP error status (400-599)", 400)
    for name, seconds in (("status_delay_seconds", delay), ("snap_delay_seconds", snap_delay)):
        if seconds is not None and (not isinstance(seconds, int | float) or not 0 <= seconds <= 120):
            return _error(f"{name} must be a number from 0 to 120", 400)
    async with sim.lock:
        if snap_status is not None:
            sim.faults.snap_status, sim.faults.snap_count = snap_status, count
        if refund_status is not None:
            sim.faults.refund_status, sim.faults.refund_count = refund_status, count
        if delay is not None:
            sim.faults.status_delay_seconds, sim.faults.status_delay_count = float(delay), count
        if snap_delay is not None:
            sim.faults.snap_delay_seconds, sim.faults.snap_delay_count = float(snap_delay), count
        return JSONResponse(sim.faults.as_dict())


@router.get("/simulator/faults")
async def show_faults(request: Request) -> JSONResponse:
    """Faults still armed: a count that dropped shows a caller took one (tests wait on it)."""
    sim = _sim(request)
    async with sim.lock:
        return JSONResponse(sim.faults.as_dict())


@router.delete("/simulator/faults")
async def clear_faults(request: Request) -> JSONResponse:
    sim = _sim(request)
    async with sim.lock:
        sim.faults.clear()
        return JSONResponse(sim.faults.as_dict())


# -- Snap payment page (for people clicking through `make dev`) -------------------------------


@router.get("/snap/v4/redirection/{token}", response_class=HTMLResponse)
async def payment_page(token: str, request: Request) -> HTMLResponse:
    sim = _sim(request)
    async with sim.lock:
        tx = sim.find_by_token(token)
        if tx is None:
            return HTMLResponse(pages.not_found(), status_code=404)
        html = pages.payment_page(tx, request.query_params.get("pesan"))
    return HTMLResponse(html)


@router.post("/snap/v4/redirection/{token}/pay")
async def payment_page_action(token: str, request: Request) -> Response:
    sim = _sim(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    choice = pages.ACTIONS.get(form.get("action", [""])[0])
    async with sim.lock:
        tx = sim.find_by_token(token)
    if tx is None:
        return HTMLResponse(pages.not_found(), status_code=404)
    if choice is None:
        message = "Pilihan tidak dikenal."
    else:
        try:
            result = await pay(sim, tx.order_id, *choice)
            message = pages.delivery_message(result["delivered"], result["last_status"])
        except TransitionRefused:
            message = "Status transaksi ini tidak bisa diubah lagi."
    # 303 so a browser refresh does not post the payment twice.
    return RedirectResponse(f"/snap/v4/redirection/{token}?pesan={pages.quote(message)}", status_code=303)


# -- Operations -------------------------------------------------------------------------------


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(_sim(request).registry), media_type=CONTENT_TYPE_LATEST)
