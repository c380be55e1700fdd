"""A cash sale returned at an NTT Mart outlet's till: the staff hand the cash back and record it
(who, how much). Midtrans never saw the money, so nothing is sent to it; otherwise it is the one
refund path: the refund is recorded REQUESTED (reserving every line still refundable) with the
cash paid back, then completed at once with levy reversal entries, the payment REFUNDED and
`payments.levy_reversed` (orders shows the sale refunded, the programme counts the refund).

Only a whole sale is paid back (the buyer returns everything they bought). One refund per sale,
keyed `<order id>-tunai-kembali`: a repeated request (a double tap, a retry after a crash between
recording and completing) finds it and completes it if needed, and records nothing twice."""

from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from payments.documents import PaymentDocument
from payments.domain import PaymentStatus
from payments.refunds import Refunds
from payments.store import PaymentsStore

SOURCE = "till"


def refund_key(order_id: str) -> str:
    return f"{order_id}-tunai-kembali"


class CashRefunds:
    def __init__(self, runtime: ServiceRuntime, store: PaymentsStore, refunds: Refunds) -> None:
        self.runtime = runtime
        self.store = store
        self.refunds = refunds

    async def pay_back(self, payment: PaymentDocument, staff_id: str, amount: int, reason: str) -> dict[str, Any]:
        """The refund (DONE once completed) with `cash_back`: who handed how much back, when."""
        key = refund_key(payment.id)

        async def reserve(session: Session) -> dict[str, Any]:
            existing = await self.refunds.refunds.find_one({"_id": key}, session=session)
            if existing is not None:
                return existing
            current = await self.store.get(payment.id, session)
            if current is None or current.status != PaymentStatus.SETTLED.value:
                status = current.status if current else "tidak ada"
                raise Refused(409, f"penjualan ini berstatus {status}: hanya penjualan tunai yang lunas yang bisa dikembalikan")
            refund = await self.refunds.reserve_all(session, payment.id, key, reason, SOURCE)
            if refund is None or refund.amount != amount:
                whole = refund.amount if refund else 0
                raise Refused(422, f"kembalikan seluruh penjualan: Rp{whole:,}".replace(",", "."), "paid_back")
            cash_back = {"paid_by": staff_id, "paid_back": amount, "at": utcnow(), "outlet_id": payment.outlet_id}
            await self.refunds.refunds.update_one({"_id": key}, {"$set": {"cash_back": cash_back}}, session=session)
            await self.store.payments.update_one({"_id": payment.id}, {"$set": {"cash_refund": cash_back}}, session=session)
            return refund.to_document() | {"cash_back": cash_back}

        refund = await self.runtime.write(reserve)
        if refund["status"] == "REQUESTED":
            await self.refunds.complete(key)  # no Midtrans call: the money went back over the counter
        return await self.refunds.refunds.find_one({"_id": key}) or refund

    async def paid_back_between(self, outlet_id: str, start: Any, end: Any) -> list[dict[str, Any]]:
        """The outlet's cash refunds of a day, with the levy their reversal entries took back."""
        found = await self.refunds.refunds.find(
            {"source": SOURCE, "status": "DONE", "cash_back.outlet_id": outlet_id, "cash_back.at": {"$gte": start, "$lt": end}}
        ).to_list()
        for refund in found:
            entries = await self.refunds.ledger.for_order(refund["order_id"])
            refund["levy"] = sum(-e.levy for e in entries if e.kind == "reversal" and e.refund_id == refund["_id"])
        return sorted(found, key=lambda refund: refund["cash_back"]["at"])
