"""Pure Midtrans rules: request validation, the transaction state machine, signatures, bodies.

Nothing here does I/O or reads the clock; callers pass `now` so the rules stay testable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

WIB = timezone(timedelta(hours=7), "WIB")
MERCHANT_ID = "G000000000"
CURRENCY = "IDR"
DEFAULT_EXPIRY = timedelta(hours=24)

# Not a Midtrans status: a Snap token exists but the shopper has not picked a method yet,
# which is why Core API still answers 404 for it.
CREATED = "created"

STATUS_CODES: dict[str, str] = {
    **dict.fromkeys(("capture", "settlement", "cancel", "refund", "partial_refund"), "200"),
    "pending": "201",
    "deny": "202",
    "failure": "202",
    "expire": "407",
}
PAYABLE_STATUSES = frozenset({"settlement", "capture", "pending", "deny", "cancel", "expire", "failure"})
PAY_TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: PAYABLE_STATUSES,
    "pending": frozenset({"settlement", "expire", "cancel", "deny", "failure"}),
    "capture": frozenset({"settlement", "cancel"}),
}
CANCELLABLE = frozenset({CREATED, "pending", "capture"})
REFUNDABLE = frozenset({"settlement", "partial_refund"})
EXPIRABLE = frozenset({CREATED, "pending"})
PAYMENT_TYPES = frozenset({"qris", "bank_transfer", "gopay", "shopeepay", "credit_card"})


class ValidationFailed(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class TransitionRefused(Exception):
    def __init__(self, order_id: str, current: str, target: str) -> None:
        super().__init__(f"transaction {order_id} cannot move from {current} to {target}")
        self.current = current
        self.target = target


class MerchantCannotModify(Exception):
    """Midtrans answers 412 when the current status forbids the requested change."""

    message = "Merchant cannot modify the status of the transaction"


class InvalidRefund(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Item:
    id: str | None
    name: str
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class SnapRequest:
    order_id: str
    gross_amount: int
    items: tuple[Item, ...]
    customer_details: dict[str, Any] | None
    expiry_start: datetime | None
    expiry_duration: timedelta | None
    finish_url: str | None


@dataclass(slots=True)
class Refund:
    refund_key: str
    amount: int
    reason: str | None
    created_at: datetime
    refund_chargeback_id: int
    response: dict[str, Any]


@dataclass(slots=True)
class DeliveryAttempt:
    at: datetime
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class NotificationRecord:
    body: dict[str, Any]
    trigger: str
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(a.ok for a in self.attempts)


@dataclass(slots=True)
class Transaction:
    order_id: str
    token: str
    transaction_id: str
    gross_amount: int
    items: tuple[Item, ...]
    customer_details: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime
    finish_url: str | None = None
    status: str = CREATED
    payment_type: str | None = None
    transaction_time: datetime | None = None
    settlement_time: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)

    @property
    def refunded_amount(self) -> int:
        return sum(r.amount for r in self.refunds)

    @property
    def refundable_amount(self) -> int:
        return self.gross_amount - self.refunded_amount


def signature_key(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    """SHA-512 hex exactly as Midtrans signs notifications and status answers."""
    raw = f"{order_id}{status_code}{gross_amount}{server_key}"
    return hashlib.sha512(raw.encode("utf-8")).hexdigest()


def format_amount(amount: int) -> str:
    # Midtrans always sends IDR amounts with two decimals, and signs that exact string.
    return f"{amount}.00"


def format_rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def to_wib(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


def as_int(value: Any) -> int | None:
    """Integers, or floats with no fraction (JSON encoders often emit 150000.0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def new_transaction(request: SnapRequest, now: datetime, token: str, transaction_id: str) -> Transaction:
    start = request.expiry_start or now
    return Transaction(
        order_id=request.order_id,
        token=token,
        transaction_id=transaction_id,
        gross_amount=request.gross_amount,
        items=request.items,
        customer_details=request.customer_details,
        created_at=now,
        expires_at=start + (request.expiry_duration or DEFAULT_EXPIRY),
        finish_url=request.finish_url,
    )


def _move(tx: Transaction, target: str, now: datetime) -> None:
    # transaction_time is when the shopper's payment attempt started at Midtrans.
    if tx.transaction_time is None:
        tx.transaction_time = now
    if target == "settlement":
        tx.settlement_time = now
    tx.status = target


def apply_payment(tx: Transaction, target: str, payment_type: str, now: datetime) -> None:
    """Simulate the shopper/bank moving the transaction; refuse what Midtrans never does."""
    if target not in PAY_TRANSITIONS.get(tx.status, frozenset()):
        raise TransitionRefused(tx.order_id, tx.status, target)
    if tx.status == CREATED:
        tx.payment_type = payment_type
    _move(tx, target, now)


def apply_cancel(tx: Transaction, now: datetime) -> bool:
    """Returns whether anything changed; cancelling twice is an idempotent no-op."""
    if tx.status == "cancel":
        return False
    if tx.status not in CANCELLABLE:
        raise MerchantCannotModify()
    _move(tx, "cancel", now)
    return True


def is_due_for_expiry(tx: Transaction, now: datetime) -> bool:
    return tx.status in EXPIRABLE and tx.expires_at <= now


def apply_expiry(tx: Transaction, now: datetime) -> bool:
    if not is_due_for_expiry(tx, now):
        return False
    _move(tx, "expire", now)
    return True


def apply_refund(tx: Transaction, refund_key: str, amount: Any, reason: str | None, now: datetime) -> tuple[dict[str, Any], bool]:
    """Returns (response body, changed). A known refund_key replays its first answer."""
    for previous in tx.refunds:
        if previous.refund_key == refund_key:
            return previous.response, False
    if tx.status not in REFUNDABLE:
        raise MerchantCannotModify()
    remaining = tx.refundable_amount
    value = remaining if amount is None else as_int(amount)
    if value is None or value <= 0:
        raise InvalidRefund("amount must be an integer greater than 0")
    if value > remaining:
        raise InvalidRefund(f"amount {value} exceeds the refundable amount {remaining}")
    tx.status = "refund" if value == remaining else "partial_refund"
    chargeback_id = len(tx.refunds) + 1
    response: dict[str, Any] = {
        "status_code": "200",
        "status_message": "Success, refund request is approved",
        "transaction_id": tx.transaction_id,
        "order_id": tx.order_id,
        "gross_amount": format_amount(tx.gross_amount),
        "currency": CURRENCY,
        "payment_type": tx.payment_type,
        "transaction_time": to_wib(tx.transaction_time or now),
        "transaction_status": tx.status,
        "refund_chargeback_id": chargeback_id,
        "refund_amount": format_amount(value),
        "refund_key": refund_key,
    }
    tx.refunds.append(Refund(refund_key, value, reason, now, chargeback_id, response))
    return response, True


def _body(tx: Transaction, server_key: str, status_message: str) -> dict[str, Any]:
    status_code = STATUS_CODES[tx.status]
    gross = format_amount(tx.gross_amount)
    body: dict[str, Any] = {
        "transaction_time": to_wib(tx.transaction_time or tx.created_at),
        "transaction_status": tx.status,
        "transaction_id": tx.transaction_id,
        "status_message": status_message,
        "status_code": status_code,
        "signature_key": signature_key(tx.order_id, status_code, gross, server_key),
        "order_id": tx.order_id,
        "merchant_id": MERCHANT_ID,
        "gross_amount": gross,
        "fraud_status": "accept",
        "currency": CURRENCY,
        "expiry_time": to_wib(tx.expires_at),
    }
    # Left out rather than null when unknown, as Midtrans does for a cancelled/expired Snap
    # transaction the shopper never opened.
    if tx.payment_type is not None:
        body["payment_type"] = tx.payment_type
    if tx.settlement_time is not None:
        body["settlement_time"] = to_wib(tx.settlement_time)
    if tx.refunds:
        body["refund_amount"] = format_amount(tx.refunded_amount)
        body["refunds"] = [
            {
                "refund_chargeback_id": r.refund_chargeback_id,
                "refund_amount": format_amount(r.amount),
                "created_at": to_wib(r.created_at),
                "reason": r.reason or "",
                "refund_key": r.refund_key,
            }
            for r in tx.refunds
        ]
    return body


def status_body(tx: Transaction, server_key: str, status_message: str = "Success, transaction is found") -> dict[str, Any]:
    return _body(tx, server_key, status_message)


def notification_body(tx: Transaction, server_key: str) -> dict[str, Any]:
    return _body(tx, server_key, "midtrans payment notification")


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float = 60.0) -> float:
    """Backoff before retry number `attempt` (1-based): base, 2×base, 4×base … capped."""
    return min(cap_seconds, base_seconds * float(2 ** (attempt - 1)))
