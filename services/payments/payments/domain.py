"""Payment rules: the PAD levy, Midtrans statuses and signatures. Pure: no I/O."""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from beli_contracts.values import PricedLine, SettledLine
from beli_runtime.clock import WIB
from payments.documents import PaymentDocument

BPS_DENOMINATOR = 10_000


def levy_for(gross: int, rate_bps: int) -> int:
    """Levy on a line gross, rounded half-up to a whole Rupiah (integers only, never floats)."""
    if gross < 0 or not 0 <= rate_bps <= BPS_DENOMINATOR:
        raise ValueError(f"levy needs gross >= 0 and 0 <= bps <= 10000, got {gross}, {rate_bps}")
    return (gross * rate_bps + BPS_DENOMINATOR // 2) // BPS_DENOMINATOR


@dataclass(frozen=True)
class LevyRule:
    id: str
    version: int
    rate_bps: int


RuleLookup = Callable[[PricedLine], LevyRule]


def settle_lines(lines: list[PricedLine], rule_for: RuleLookup) -> list[SettledLine]:
    """Levy per order line on its gross; the seller is owed the rest of the line."""
    settled = []
    for line in lines:
        rule = rule_for(line)
        levy = levy_for(line.subtotal, rule.rate_bps)
        settled.append(
            SettledLine(
                **line.model_dump(), levy=levy, seller_payable=line.subtotal - levy, levy_rule_id=rule.id, levy_rule_version=rule.version
            )
        )
    return settled


class PaymentStatus(StrEnum):
    OPENING = "OPENING"  # waiting for Midtrans to open the Snap transaction
    AWAITING = "AWAITING_PAYMENT"  # link handed to the shopper
    SETTLED = "SETTLED"
    FAILED = "FAILED"  # denied, expired, cancelled, failed, or never opened
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"


class Outcome(StrEnum):
    PAID = "paid"
    NOT_PAID = "not_paid"
    WAITING = "waiting"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"


def classify(transaction_status: str, fraud_status: str | None) -> Outcome:
    """What a Midtrans transaction status means for us."""
    if transaction_status == "settlement":
        return Outcome.PAID
    if transaction_status == "capture":
        # A card capture is money only when the fraud check accepted it.
        return Outcome.PAID if (fraud_status or "accept") == "accept" else Outcome.WAITING
    if transaction_status in ("deny", "cancel", "expire", "failure"):
        return Outcome.NOT_PAID
    if transaction_status in ("pending", "authorize"):
        return Outcome.WAITING
    if transaction_status in ("refund", "partial_refund", "chargeback", "partial_chargeback"):
        return Outcome.REFUNDED
    return Outcome.UNKNOWN


# Which of our states an outcome may move a payment out of. Anything else is a stale or
# out-of-order notification and changes nothing (e.g. `expire` after `settlement`). Money that
# arrives for a FAILED payment is not in this table: it is a late payment (see `late_reason`),
# booked and returned in full, never kept.
MOVES: dict[Outcome, tuple[PaymentStatus, frozenset[PaymentStatus]]] = {
    Outcome.PAID: (PaymentStatus.SETTLED, frozenset({PaymentStatus.OPENING, PaymentStatus.AWAITING})),
    Outcome.NOT_PAID: (PaymentStatus.FAILED, frozenset({PaymentStatus.OPENING, PaymentStatus.AWAITING})),
}


def late_reason(payment: PaymentDocument) -> str | None:
    """Why money for this payment must go back (None: the order may still be paid). The order
    was cancelled (orders never cancels a paid order, except when its units lapsed), or the
    payment had already failed or expired, which cancels the order."""
    if payment.order_cancelled is not None:
        return f"order cancelled ({payment.order_cancelled.reason})"
    if payment.status == PaymentStatus.FAILED.value:
        return f"payment had already failed ({payment.failure_reason or payment.midtrans_status})"
    return None


def signature_key(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    return hashlib.sha512(f"{order_id}{status_code}{gross_amount}{server_key}".encode()).hexdigest()


def signature_valid(notification: dict[str, object], server_key: str) -> bool:
    expected = signature_key(
        str(notification.get("order_id", "")),
        str(notification.get("status_code", "")),
        str(notification.get("gross_amount", "")),
        server_key,
    )
    return hmac.compare_digest(expected, str(notification.get("signature_key", "")))


def rupiah_from_midtrans(amount: str | float) -> int:
    """Midtrans sends "150000.00"; IDR has no minor unit, so anything after the point must be zero."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if value != value.to_integral_value():
        raise ValueError(f"fractional Rupiah amount: {amount!r}")
    return int(value)


def snap_minutes(created: datetime, pay_before: datetime, margin_seconds: float) -> int:
    """Whole minutes of Snap validity that end at least `margin_seconds` before the order's one
    deadline (the stock hold), so a payment is confirmed while the units are still held. 0: too
    late to open a link at all."""
    return max(0, int(((pay_before - created).total_seconds() - margin_seconds) // 60))


def snap_expiry(created: datetime, minutes: int) -> dict[str, object]:
    """Snap expiry with an explicit start time (Midtrans's clock is WIB, UTC+7). The start is
    truncated to the second, so the expiry never ends later than `created + minutes`."""
    return {"start_time": created.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S +0700"), "unit": "minute", "duration": minutes}


def item_name(name: str) -> str:
    """Midtrans refuses item names over 50 characters."""
    return name if len(name) <= 50 else name[:47] + "..."


def midtrans_order(payment: PaymentDocument) -> dict[str, Any]:
    """What every Midtrans transaction of an order states (Snap and Core API alike): the order
    and its amount, one item per line with its seller, and the buyer."""
    customer = payment.customer
    return {
        "transaction_details": {"order_id": payment.id, "gross_amount": payment.gross_amount},
        "item_details": [
            {
                "id": line.product_id,
                "price": line.unit_price,
                "quantity": line.quantity,
                "name": item_name(line.product_name),
                "merchant_name": item_name(line.seller.name),
            }
            for line in payment.lines
        ],
        "customer_details": {"first_name": customer.name[:255], "email": customer.email, "phone": customer.phone},
    }
