"""Validation of Snap create-transaction requests, with Midtrans's rules and messages (no I/O)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from .domain import Item, SnapRequest, ValidationFailed, as_int

_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9\-_~.]+$")
_EXPIRY_UNITS: dict[str, timedelta] = {unit: timedelta(**{f"{unit}s": 1}) for unit in ("second", "minute", "hour", "day")}
MAX_ORDER_ID = 50
MAX_ITEM_NAME = 50


def _validate_order_id(details: dict[str, Any], errors: list[str]) -> str | None:
    order_id = details.get("order_id")
    if order_id is None or order_id == "":
        errors.append("transaction_details.order_id is required")
        return None
    if not isinstance(order_id, str):
        errors.append("transaction_details.order_id must be a string")
        return None
    if len(order_id) > MAX_ORDER_ID:
        errors.append(f"transaction_details.order_id must be at most {MAX_ORDER_ID} characters")
    if not _ORDER_ID_RE.match(order_id):
        errors.append("transaction_details.order_id may only contain letters, digits and - _ ~ .")
    return order_id


def _validate_items(raw_items: Any, errors: list[str]) -> tuple[Item, ...] | None:
    if not isinstance(raw_items, list):
        errors.append("item_details must be a list")
        return None
    items: list[Item] = []
    ok = True
    for i, raw in enumerate(raw_items):
        where = f"item_details[{i}]"
        if not isinstance(raw, dict):
            errors.append(f"{where} must be an object")
            ok = False
            continue
        name = raw.get("name")
        if not isinstance(name, str) or name == "":
            errors.append(f"{where}.name is required")
            ok = False
        elif len(name) > MAX_ITEM_NAME:
            errors.append(f"{where}.name must be at most {MAX_ITEM_NAME} characters")
            ok = False
        price = as_int(raw.get("price"))
        if price is None:
            errors.append(f"{where}.price must be an integer")
            ok = False
        quantity = as_int(raw.get("quantity"))
        if quantity is None or quantity < 1:
            errors.append(f"{where}.quantity must be an integer of at least 1")
            ok = False
        if ok and isinstance(name, str) and price is not None and quantity is not None:
            item_id = raw.get("id")
            items.append(Item(None if item_id is None else str(item_id), name, price, quantity))
    return tuple(items) if ok else None


def _validate_expiry(raw: Any, errors: list[str]) -> tuple[datetime | None, timedelta | None]:
    if not isinstance(raw, dict):
        errors.append("expiry must be an object")
        return None, None
    start: datetime | None = None
    start_raw = raw.get("start_time")
    if start_raw is not None:
        try:
            start = datetime.strptime(str(start_raw), "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            errors.append('expiry.start_time must look like "YYYY-MM-DD HH:MM:SS +0700"')
    unit_raw = raw.get("unit")
    unit = str(unit_raw).lower().removesuffix("s") if isinstance(unit_raw, str) else None
    if unit not in _EXPIRY_UNITS:
        errors.append("expiry.unit must be one of second, minute, hour, day")
    duration = as_int(raw.get("duration"))
    if duration is None or duration <= 0:
        errors.append("expiry.duration must be an integer greater than 0")
    if unit in _EXPIRY_UNITS and duration is not None and duration > 0:
        return start, _EXPIRY_UNITS[unit] * duration
    return start, None


def validate_snap_request(payload: Any) -> SnapRequest:
    """Collect every problem at once, as Midtrans does, naming the offending field."""
    if not isinstance(payload, dict):
        raise ValidationFailed(["request body must be a JSON object"])
    errors: list[str] = []
    details = payload.get("transaction_details")
    if not isinstance(details, dict):
        raise ValidationFailed(["transaction_details is required"])
    order_id = _validate_order_id(details, errors)
    gross = as_int(details.get("gross_amount"))
    if details.get("gross_amount") is None:
        errors.append("transaction_details.gross_amount is required")
    elif gross is None:
        errors.append("transaction_details.gross_amount must be an integer (IDR has no decimals)")
    elif gross <= 0:
        errors.append("transaction_details.gross_amount must be greater than 0")

    items: tuple[Item, ...] | None = ()
    if payload.get("item_details") is not None:
        items = _validate_items(payload["item_details"], errors)
        if items is not None and gross is not None:
            total = sum(item.price * item.quantity for item in items)
            if total != gross:
                errors.append(f"transaction_details.gross_amount is not equal to the sum of item_details ({gross} != {total})")

    start: datetime | None = None
    duration: timedelta | None = None
    if payload.get("expiry") is not None:
        start, duration = _validate_expiry(payload["expiry"], errors)

    customer = payload.get("customer_details")
    if customer is not None and not isinstance(customer, dict):
        errors.append("customer_details must be an object")

    callbacks = payload.get("callbacks")
    finish_url = callbacks.get("finish") if isinstance(callbacks, dict) else None

    if errors:
        raise ValidationFailed(errors)
    assert order_id is not None and gross is not None and items is not None
    return SnapRequest(
        order_id=order_id,
        gross_amount=gross,
        items=items,
        customer_details=customer,
        expiry_start=start,
        expiry_duration=duration,
        finish_url=finish_url if isinstance(finish_url, str) else None,
    )
