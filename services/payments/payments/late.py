"""Late payments: money that Midtrans settled for an order that can no longer be paid (the order
was cancelled or its payment had failed or expired, or its units were sold meanwhile).

Such money is never kept. The settlement is booked (levy entries, so finance sees it in the
ledger) and, in the same transaction, a full refund with the key `<order_id>-return` is recorded;
a job sends it to Midtrans, and completing it reverses the levy and emits `payment_returned`
(the shopper is told). No `payment_settled` is emitted for it, so no seller is asked to ship.
Where Midtrans refuses the refund, the payment waits in `GET /admin/late-payments` for an operator.
"""

from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from payments.documents import PaymentDocument, RefundDocument
from payments.gateway import MidtransRefused
from payments.refunds import Refunds
from payments.store import PaymentsStore

log = get_logger(__name__)
SOURCE = "late_payment"
RETURNING, RETURNED, NEEDS_OPERATOR = "returning", "returned", "needs_operator"


def return_key(order_id: str) -> str:
    return f"{order_id}-return"


class LatePayments:
    def __init__(self, store: PaymentsStore, refunds: Refunds) -> None:
        self.store = store
        self.refunds = refunds

    async def begin(self, session: Session, order_id: str, reason: str) -> None:
        """Record the full return of a settled payment (idempotent: one return per order)."""
        key = return_key(order_id)
        if await self.refunds.refunds.find_one({"_id": key}, {"_id": 1}, session=session):
            return
        await self.refunds.reserve_all(session, order_id, key, f"pembayaran terlambat dikembalikan: {reason}", SOURCE)
        await self.store.set_fields(
            order_id,
            {"late_payment": {"reason": reason, "state": RETURNING, "refund_key": key, "detected_at": utcnow()}},
            session=session,
        )
        log.warning("payments.late_payment", order_id=order_id, reason=reason)

    async def send_due(self) -> bool:
        """Send recorded returns to Midtrans; Midtrans dedupes by refund_key, so a retry is safe."""
        return await self.refunds.send_due(SOURCE, self._refused)

    async def _refused(self, refund: RefundDocument, error: MidtransRefused) -> None:
        """Not retried blindly: a person must return this money (e.g. by bank transfer)."""
        await self.refunds.fail(refund, error)
        await self.store.set_fields(refund.order_id, {"late_payment.state": NEEDS_OPERATOR, "late_payment.error": str(error)})

    async def listing(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"late_payment": {"$exists": True}}
        if state:
            query["late_payment.state"] = state
        payments = await self.store.payments.find(query).sort("late_payment.detected_at", -1).limit(limit).to_list()
        return [late_view(PaymentDocument.from_document(payment)) for payment in payments]


def late_view(payment: PaymentDocument) -> dict[str, Any]:
    late = payment.late_payment
    assert late is not None  # listed because it has one
    return {
        "order_id": payment.id,
        "state": late.state,
        "reason": late.reason,
        "gross_amount": payment.gross_amount,
        "refund_key": late.refund_key,
        "payment_status": payment.status,
        "error": late.error,
        "detected_at": late.detected_at,
        "returned_at": late.returned_at,
    }
