"""Core API `POST /v2/charge` with `payment_type: "qris"`, as Midtrans documents it: the answer
carries `actions` (one `generate-qr-code` with a URL) and the `qr_string`; the transaction is
`pending` at once (and Midtrans says so in a notification), then settles when the buyer's app
pays it (here: `POST /simulator/pay/{order_id}`), with the same notifications as Snap."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from .api import _authorized, _json_body, _sim
from .domain import CURRENCY, MERCHANT_ID, ValidationFailed, _move, format_amount, new_transaction, to_wib
from .validation import _EXPIRY_UNITS, validate_snap_request

if TYPE_CHECKING:
    from .main import Simulator

router = APIRouter()
ACQUIRERS = ("gopay", "airpay shopee")


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE, the checksum that ends every QRIS (EMVCo) payload."""
    crc = 0xFFFF
    for byte in data.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def qr_string(order_id: str, gross_amount: int) -> str:
    """A dynamic QRIS payload in the EMVCo layout: merchant, amount, reference and CRC."""
    merchant = _tlv("00", "COM.GO-JEK.WWW") + _tlv("01", "936009140" + MERCHANT_ID[1:]) + _tlv("02", MERCHANT_ID) + _tlv("03", "UMI")
    body = (
        _tlv("00", "01")
        + _tlv("01", "12")
        + _tlv("26", merchant)
        + _tlv("52", "5999")
        + _tlv("53", "360")
        + _tlv("54", str(gross_amount))
        + _tlv("58", "ID")
        + _tlv("59", "BELI NTT")
        + _tlv("60", "KUPANG")
        + _tlv("62", _tlv("01", order_id[:25]))
        + "6304"
    )
    return body + crc16(body)


def _custom_expiry(raw: Any, errors: list[str]) -> tuple[datetime | None, timedelta | None]:
    if not isinstance(raw, dict):
        errors.append("custom_expiry must be an object")
        return None, None
    start = None
    if raw.get("order_time") is not None:
        try:
            start = datetime.strptime(str(raw["order_time"]), "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            errors.append('custom_expiry.order_time must look like "YYYY-MM-DD HH:MM:SS +0700"')
    unit = str(raw.get("unit", "minute")).lower().removesuffix("s")
    duration = raw.get("expiry_duration")
    if unit not in _EXPIRY_UNITS or not isinstance(duration, int) or duration <= 0:
        errors.append("custom_expiry needs expiry_duration > 0 and unit second, minute, hour or day")
        return start, None
    return start, _EXPIRY_UNITS[unit] * duration


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status_code": str(status), "status_message": message}, status_code=status)


@router.post("/v2/charge")
async def charge(request: Request) -> JSONResponse:
    sim: Simulator = _sim(request)
    if not _authorized(request, sim.settings.server_key):
        return _error(401, "Access denied due to unauthorized transaction, please check client or server key")
    payload = await _json_body(request)
    if not isinstance(payload, dict) or payload.get("payment_type") != "qris":
        return _error(400, "payment_type: this simulator charges only qris")
    acquirer = (payload.get("qris") or {}).get("acquirer", "gopay") if isinstance(payload.get("qris"), dict | None) else None
    errors = [] if acquirer in ACQUIRERS else ["qris.acquirer must be gopay or airpay shopee"]
    start, duration = _custom_expiry(payload["custom_expiry"], errors) if "custom_expiry" in payload else (None, None)
    try:
        snap = validate_snap_request({key: value for key, value in payload.items() if key not in ("payment_type", "qris", "custom_expiry")})
    except ValidationFailed as exc:
        errors += exc.messages
    if errors:
        return _error(400, "; ".join(errors))
    now = datetime.now(UTC)
    async with sim.lock:
        if snap.order_id in sim.transactions:
            return _error(406, "Duplicate order ID. Order ID has already been utilized")
        tx = new_transaction(snap, now, str(uuid.uuid4()), str(uuid.uuid4()))
        tx.expires_at = (start or now) + (duration or timedelta(minutes=15))  # Midtrans's QRIS default: 15 minutes
        tx.payment_type = "qris"
        _move(tx, "pending", now)
        sim.transactions[tx.order_id] = tx
        record = sim.record_notification(tx, "charge:pending")
    await sim.send(record, wait_first=False)
    return JSONResponse(charge_body(tx, sim.settings.public_url, str(acquirer)), status_code=200)


def charge_body(tx: Any, public_url: str, acquirer: str) -> dict[str, Any]:
    return {
        "status_code": "201",
        "status_message": "QRIS transaction is created",
        "transaction_id": tx.transaction_id,
        "order_id": tx.order_id,
        "merchant_id": MERCHANT_ID,
        "gross_amount": format_amount(tx.gross_amount),
        "currency": CURRENCY,
        "payment_type": "qris",
        "transaction_time": to_wib(tx.transaction_time),
        "transaction_status": "pending",
        "fraud_status": "accept",
        "actions": [{"name": "generate-qr-code", "method": "GET", "url": f"{public_url}/v2/qris/{tx.transaction_id}/qr-code"}],
        "qr_string": qr_string(tx.order_id, tx.gross_amount),
        "acquirer": acquirer,
        "expiry_time": to_wib(tx.expires_at),
    }


@router.get("/v2/qris/{transaction_id}/qr-code", response_class=PlainTextResponse)
async def qr_code(transaction_id: str, request: Request) -> PlainTextResponse:
    """Midtrans answers a PNG of the QR; the simulator (no image encoder) answers its payload."""
    sim: Simulator = _sim(request)
    async with sim.lock:
        tx = sim.find(transaction_id)
    if tx is None or tx.payment_type != "qris":
        return PlainTextResponse("QR code not found", status_code=404)
    return PlainTextResponse(qr_string(tx.order_id, tx.gross_amount))
