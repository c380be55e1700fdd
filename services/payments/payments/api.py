"""Payments HTTP routes: the Midtrans notification webhook, payment status, levy entries."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from beli_runtime.auth import CurrentPrincipal, Role
from beli_runtime.http import ApiError
from beli_runtime.logs import get_logger
from payments.access import finance_office
from payments.domain import PaymentStatus, signature_valid
from payments.finance_api import EntryOut, entry_out
from payments.ledger import LevyLedger
from payments.receipts import NotificationReceipts
from payments.settings import PaymentsSettings
from payments.store import PaymentsStore

log = get_logger(__name__)
REQUIRED_NOTIFICATION_FIELDS = ("order_id", "status_code", "gross_amount", "signature_key", "transaction_status")


class CashTaken(BaseModel):
    received: int
    change: int
    taken_by: str = Field(description="The staff account that took the cash")
    at: datetime


class CashPaidBack(BaseModel):
    paid_back: int
    paid_by: str = Field(description="The staff account that handed the cash back")
    at: datetime


class PaymentOut(BaseModel):
    order_id: str
    status: PaymentStatus
    gross_amount: int
    levy_amount: int | None = Field(description="PAD levy in Rupiah, once settled")
    redirect_url: str | None
    token: str | None
    payment_type: str | None
    pay_before: datetime
    failure_reason: str | None
    channel: str = Field(default="online", description="`online`, or `outlet:<outlet id>` for an in-store sale")
    payment_method: str = Field(default="snap", description="`snap` online; `qris` or `cash` at an outlet")
    qr_string: str | None = Field(default=None, description="In-store QRIS: the QR payload to show at the till")
    cash: CashTaken | None = Field(default=None, description="In-store cash: what the staff took and handed back")
    cash_refund: CashPaidBack | None = Field(default=None, description="A returned cash sale: the cash the staff paid back")


class LevyEntries(BaseModel):
    items: list[EntryOut]
    total_gross: int
    total_levy: int
    total_seller_payable: int


def build_router(
    store: PaymentsStore, receipts: NotificationReceipts, ledger: LevyLedger, settings: PaymentsSettings, wake_notifications: Any
) -> APIRouter:
    router = APIRouter()
    _register_webhook(router, receipts, settings, wake_notifications)
    _register_payments(router, store)
    _register_levy(router, ledger)
    return router


def _register_webhook(router: APIRouter, receipts: NotificationReceipts, settings: PaymentsSettings, wake_notifications: Any) -> None:
    @router.post(
        "/midtrans/notification",
        tags=["midtrans"],
        responses={401: {"description": "signature_key does not match"}, 400: {"description": "not a Midtrans notification"}},
    )
    async def midtrans_notification(request: Request) -> dict[str, str]:
        """Midtrans HTTP notification. Verified, recorded (with the notifications arriving at the
        same moment: receipts.py), answered once stored; acted on after a status check with
        Midtrans, so a forged, repeated or stale notification changes nothing."""
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "the notification body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the notification body must be a JSON object")
        missing = [field for field in REQUIRED_NOTIFICATION_FIELDS if not isinstance(body.get(field), str) or not body.get(field)]
        if missing:
            raise ApiError(400, f"not a Midtrans notification: missing {', '.join(missing)}", field=missing[0])
        if not signature_valid(body, settings.midtrans_server_key):
            log.warning("payments.forged_notification", order_id=str(body.get("order_id"))[:60])
            raise ApiError(401, "signature_key does not match this notification", field="signature_key")
        fresh = await receipts.record(body)
        wake_notifications()
        return {"status": "received" if fresh else "duplicate"}


def _register_payments(router: APIRouter, store: PaymentsStore) -> None:
    @router.get("/payments/{order_id}", response_model=PaymentOut, tags=["payments"])
    async def get_payment(order_id: str, principal: CurrentPrincipal) -> PaymentOut:
        """The shopper who placed the order, the finance office or an admin; for an in-store sale, the outlet's staff."""
        payment = await store.get(order_id)
        staff = principal.role in (Role.FINANCE, Role.ADMIN)
        till = principal.role is Role.OUTLET and payment is not None and payment.outlet_id == principal.outlet_id
        if payment is None or not (
            staff or till or (principal.role is Role.SHOPPER and payment.customer.account_id == principal.account_id)
        ):
            raise ApiError(404, f"no payment for order {order_id}")
        return PaymentOut(
            order_id=payment.id,
            status=PaymentStatus(payment.status),
            gross_amount=payment.gross_amount,
            levy_amount=payment.levy_amount,
            redirect_url=payment.redirect_url,
            token=payment.token,
            payment_type=payment.payment_type,
            pay_before=payment.pay_before,
            failure_reason=payment.failure_reason,
            qr_string=payment.qr_string,
            channel=payment.channel,
            payment_method=payment.payment_method,
            cash=payment.cash.model_dump() if payment.cash else None,
            cash_refund=payment.cash_refund.model_dump() if payment.cash_refund else None,
        )


def _register_levy(router: APIRouter, ledger: LevyLedger) -> None:
    @router.get("/levy/entries", response_model=LevyEntries, tags=["levy"], dependencies=[Depends(finance_office)])
    async def levy_entries(
        order_id: Annotated[str, Query(min_length=1, max_length=64, description="The order whose levy entries to list")],
    ) -> LevyEntries:
        entries = await ledger.for_order(order_id)
        items = [entry_out(entry) for entry in entries]
        return LevyEntries(
            items=items,
            total_gross=sum(e.gross for e in items),
            total_levy=sum(e.levy for e in items),
            total_seller_payable=sum(e.seller_payable for e in items),
        )
