"""Late payments: money that Midtrans settled for an order that can no longer be paid (the order
was cancelled or its payment had failed or expired, or its units were sold meanwhile).

Such money is never kept. The settlement is booked (levy entries, so finance sees it in the
ledger) and, in the same transaction, a full refund with the key `<order_id>-return` is recorded;
a job sends it to Midtrans, and completing it reverses the levy and emits `payment_returned`
(the shopper is told). No `payment_settled` is emitted for it, so no seller is asked to ship.
Where Midtrans refuses the refund, the payment waits in `GET /admin/late-payments` for an operator.
"""

from datetime import timedelta
from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.leases import ensure_held
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from payments.gateway import MidtransGateway, MidtransRefused, MidtransUnavailable
from payments.refunds import Refunds
from payments.store import PaymentsStore

log = get_logger(__name__)
SOURCE = "late_payment"
RETURNING, RETURNED, NEEDS_OPERATOR = "returning", "returned", "needs_operator"


def return_key(order_id: str) -> str:
    return f"{order_id}-return"


class LatePayments:
    def __init__(self, store: PaymentsStore, refunds: Refunds, gateway: MidtransGateway, retry_seconds: float) -> None:
        self.store = store
        self.refunds = refunds
        self.gateway = gateway
        self.retry_seconds = retry_seconds

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
        now = utcnow()
        due = await self.refunds.refunds.find({"status": "REQUESTED", "source": SOURCE, "retry_at": {"$lte": now}}).limit(20).to_list()
        for refund in due:
            await self._send(refund)
        return bool(due)

    async def _send(self, refund: dict[str, Any]) -> None:
        order_id, key = refund["order_id"], refund["_id"]
        ensure_held()  # another instance took the job over: leave the refund to it
        try:
            await self.gateway.refund(order_id, key, refund["amount"], refund["reason"])
        except MidtransUnavailable as error:
            tries = refund.get("tries", 0) + 1
            delay = timedelta(seconds=min(self.retry_seconds * 2**tries, 3600))
            await self.refunds.refunds.update_one(
                {"_id": key}, {"$set": {"tries": tries, "error": str(error), "retry_at": utcnow() + delay}}
            )
            return
        except MidtransRefused as error:
            # Not retried blindly: a person must return this money (e.g. by bank transfer).
            log.error("payments.late_payment_refund_refused", order_id=order_id, error=str(error))
            await self.refunds.refunds.update_one(
                {"_id": key, "status": "REQUESTED"}, {"$set": {"status": "FAILED", "error": str(error), "updated_at": utcnow()}}
            )
            await self.store.set_fields(order_id, {"late_payment.state": NEEDS_OPERATOR, "late_payment.error": str(error)})
            return
        await self.refunds.complete(key)

    async def listing(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"late_payment": {"$exists": True}}
        if state:
            query["late_payment.state"] = state
        payments = await self.store.payments.find(query).sort("late_payment.detected_at", -1).limit(limit).to_list()
        return [late_view(payment) for payment in payments]


def late_view(payment: dict[str, Any]) -> dict[str, Any]:
    late = payment["late_payment"]
    return {
        "order_id": payment["_id"],
        "state": late["state"],
        "reason": late["reason"],
        "gross_amount": payment["gross_amount"],
        "refund_key": late["refund_key"],
        "payment_status": payment["status"],
        "error": late.get("error"),
        "detected_at": late["detected_at"],
        "returned_at": late.get("returned_at"),
    }
