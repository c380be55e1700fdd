"""Events produced by the payments service (topic `payments.events`)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import PAYMENTS_EVENTS
from beli_contracts.values import Customer, PricedLine, Rupiah, SettledLine, Value


class _PaymentsEvent(EventPayload):
    TOPIC = PAYMENTS_EVENTS


class PaymentLinkCreated(_PaymentsEvent):
    TYPE = "payments.payment_link_created"
    order_id: str
    customer: Customer
    lines: list[PricedLine]
    gross_amount: Rupiah
    token: str
    redirect_url: str
    pay_before: datetime
    # An in-store QRIS charge: the QR to show at the till (Midtrans's `qr_string`, and the URL of
    # its `generate-qr-code` action); `redirect_url` is that URL too.
    qr_string: str | None = None


class PaymentSettled(_PaymentsEvent):
    """Midtrans confirmed the money; the PAD levy of every line is recorded in the ledger."""

    TYPE = "payments.payment_settled"
    order_id: str
    customer: Customer
    lines: list[SettledLine] = Field(min_length=1)
    gross_amount: Rupiah
    levy_total: Rupiah
    seller_payable_total: Rupiah
    payment_type: str
    transaction_id: str
    settled_at: datetime
    channel: str = "online"  # "outlet:<outlet id>" for an in-store sale


class PaymentFailed(_PaymentsEvent):
    """The order will not be paid: denied, cancelled, expired, failed, or the link could not be made."""

    TYPE = "payments.payment_failed"
    order_id: str
    transaction_status: str
    reason: str


class PaymentReturned(_PaymentsEvent):
    """Money that arrived for an order that could no longer be paid (cancelled, expired, or its
    stock gone) went back to the shopper in full through Midtrans's refund."""

    TYPE = "payments.payment_returned"
    order_id: str
    customer: Customer
    gross_amount: Rupiah
    refund_key: str
    reason: str
    returned_at: datetime


class LevyEntry(Value):
    """One ledger line as the province's systems see it. Reversals carry negative amounts."""

    entry_id: str
    sequence: int
    kind: Literal["levy", "reversal"]
    order_id: str
    product_id: str
    seller_id: str
    regency: str
    category: str
    gross: Rupiah
    levy: Rupiah
    seller_payable: Rupiah
    rule_id: str
    rule_version: int
    rate_bps: int
    period: str = Field(description="Accounting month YYYY-MM (WITA) the entry counts in")
    reverses: str | None = None
    recorded_at: datetime
    hash: str
    channel: str = "online"  # "outlet:<outlet id>" for an in-store sale


class LevyRecorded(_PaymentsEvent):
    TYPE = "payments.levy_recorded"
    order_id: str
    entries: list[LevyEntry] = Field(min_length=1)


class LevyReversed(_PaymentsEvent):
    """A refund reversed the levy of the refunded lines."""

    TYPE = "payments.levy_reversed"
    order_id: str
    refund_amount: Rupiah
    entries: list[LevyEntry] = Field(min_length=1)


class LedgerMonthClosed(_PaymentsEvent):
    """The finance office closed a month. The chain head and the month's totals leave the
    database here (and in the signed statement finance downloads): a ledger rewritten later,
    hashes and all, no longer matches a copy kept elsewhere."""

    TYPE = "payments.ledger_month_closed"
    period: str = Field(description="Accounting month YYYY-MM (WITA)")
    head_sequence: int = Field(ge=0)
    head_hash: str
    entries: int = Field(ge=0)
    gross: Rupiah
    levy: Rupiah
    seller_payable: Rupiah
    closed_at: datetime
    closed_by: str
    statement: str = Field(description="The signed text: canonical JSON of the fields above")
    signature: str = Field(description="Ed25519 signature of `statement`, base64")
    key_id: str = Field(description="First 16 hex digits of the SHA-256 of the raw public key")


class LevyRuleTerms(Value):
    rule_id: str
    version: int
    rate_bps: int
    category: str | None
    regency: str | None
    effective_from: datetime


class LevyRuleChanged(_PaymentsEvent):
    """An operator created a levy rule or a new version of one."""

    TYPE = "payments.levy_rule_changed"
    current: LevyRuleTerms
    previous: LevyRuleTerms | None
    reason: str
    changed_by: str
