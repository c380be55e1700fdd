"""Events produced by the payments service (topic `payments.events`)."""

from datetime import datetime

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import PAYMENTS_EVENTS
from beli_contracts.values import Customer, PricedLine, Rupiah, SettledLine


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


class PaymentFailed(_PaymentsEvent):
    """The order will not be paid: denied, cancelled, expired, failed, or the link could not be made."""

    TYPE = "payments.payment_failed"
    order_id: str
    transaction_status: str
    reason: str
