"""Payments' stored documents, as store.py reads and writes them (see beli_runtime.documents:
unnamed fields are kept, defaults are never written into a document that lacked them). Fields
are declared in the order the documents were always written."""

from datetime import datetime
from typing import Any

from pydantic import Field

from beli_contracts.values import Customer, PricedLine
from beli_runtime.documents import Document, StatusChange


class OrderCancelledNote(Document):
    """Orders cancelled the order: money that arrives from then on goes back."""

    reason: str
    at: datetime


class LatePayment(Document):
    """Money that came for an order that can no longer be paid, on its way back (late.py)."""

    reason: str
    state: str
    refund_key: str
    detected_at: datetime
    error: str | None = None
    returned_at: datetime | None = None


class CashTaken(Document):
    """An outlet's staff took the buyer's cash at the till."""

    taken_by: str
    received: int
    change: int
    at: datetime


class CashPaidBack(Document):
    """A cash sale returned at the till: the staff handed the cash back (cash_refunds.py)."""

    paid_by: str
    paid_back: int
    at: datetime
    outlet_id: str | None = None


class PaymentDocument(Document):
    """One order's payment (`_id` is the order id), from the intent to open a Midtrans
    transaction to settled, failed or refunded."""

    id: str = Field(alias="_id")
    status: str
    channel: str = "online"  # `outlet:<id>` for a sale at an outlet's till
    outlet_id: str | None = None
    payment_method: str = "snap"
    gross_amount: int
    customer: Customer
    lines: list[PricedLine]
    pay_before: datetime
    token: str | None = None
    redirect_url: str | None = None
    levy_amount: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    cancel_requested: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    history: list[StatusChange] = []
    trace: dict[str, str] | None = None  # the order's trace, resumed by the jobs that call Midtrans
    # Set along the way:
    qr_string: str | None = None
    opened_at: datetime | None = None
    last_error: str | None = None
    failure_reason: str | None = None
    midtrans_status: str | None = None
    payment_type: str | None = None
    transaction_id: str | None = None
    settled_at: datetime | None = None
    order_cancelled: OrderCancelledNote | None = None
    late_payment: LatePayment | None = None
    refund_requests: int = 0
    cash: CashTaken | None = None
    cash_refund: CashPaidBack | None = None


class MidtransNotification(Document):
    """One distinct notification Midtrans sent; acted on by asking Midtrans for the status."""

    id: str = Field(alias="_id")
    order_id: str
    body: dict[str, Any]  # as Midtrans sent it
    received_at: datetime
    processed: bool = False
    attempts: int = 0
    next_attempt_at: datetime | None = None
    trace: dict[str, str] | None = None


class LedgerHead(Document):
    """The one document (`ledger_head`) holding the chain's last sequence and hash, and the
    closed months: every append and every closing writes it, so they serialise on it."""

    id: str = Field(alias="_id")
    sequence: int = 0
    hash: str
    closed: list[str] = []
    updated_at: datetime | None = None
    claimed_at: datetime | None = None
    rules_version: int = 0  # levy rule versions created (rules.py): settlements read the rules again when it moves


class LevyEntryDocument(Document):
    """One chained ledger entry as stored: a line's levy, or a (partial) reversal of one with
    negative amounts. Its hash covers the stored document exactly (levy.canonical_json), so
    entries are hashed and verified as the raw documents, and only read through this type."""

    id: str = Field(alias="_id")
    # Its place in the chain, and when it counts.
    sequence: int
    prev_hash: str
    hash: str
    recorded_at: datetime
    day: str
    period: str
    original_period: str | None = None  # recorded into the open month while its own was closed
    # What was sold (or returned), by whom and where.
    kind: str  # `levy` or `reversal`
    order_id: str
    product_id: str
    variant_id: str | None = None
    product_name: str
    category: str
    seller_id: str
    seller_name: str
    regency: str
    channel: str = "online"  # stored only for an outlet's sale
    reverses: str | None = None  # the levy entry a reversal reverses
    refund_id: str | None = None
    # The money, and the rule that split it.
    quantity: int
    unit_price: int
    gross: int
    levy: int
    seller_payable: int
    rule_id: str
    rule_version: int
    rate_bps: int


class RefundLine(Document):
    product_id: str
    variant_id: str | None = None
    quantity: int


class RefundDocument(Document):
    """Money going back to the shopper through Midtrans (`_id` is the refund_key Midtrans dedupes
    by): REQUESTED until Midtrans accepts it (DONE, its lines' levy reversed), FAILED if refused,
    UNMATCHED for a partial refund made outside Beli NTT that names no lines."""

    id: str = Field(alias="_id")
    order_id: str
    amount: int
    lines: list[RefundLine] = []
    reason: str = ""
    status: str
    source: str  # `api` (an operator), `late_payment`, `uncollected`, `till` (cash paid back) or `midtrans` (its dashboard)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    retry_at: datetime | None = None
    fingerprint: str | None = None  # of the operator's request: the same refund_key must mean the same refund
    tries: int = 0
    error: str | None = None


class LevyRuleDocument(Document):
    """One version of a levy rule (`_id` is `<rule_id>:v<version>`): never edited or deleted."""

    id: str = Field(alias="_id")
    rule_id: str
    version: int
    rate_bps: int
    category: str | None = None
    regency: str | None = None
    effective_from: datetime
    reason: str
    changed_by: str
    created_at: datetime
