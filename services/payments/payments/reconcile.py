"""Reconciliation: the ledger against what Midtrans says (its status API), payment by payment."""

import asyncio
from typing import Any

from payments.domain import Outcome, PaymentStatus, classify, rupiah_from_midtrans
from payments.gateway import MidtransGateway, MidtransRefused, MidtransUnavailable
from payments.late import late_view
from payments.ledger import LevyLedger
from payments.levy import utc_from_day
from payments.store import PaymentsStore

MAX_PAYMENTS = 2_000  # each one is a call to Midtrans: a wider period must be split
PARALLEL_CALLS = 8


class TooManyPayments(Exception):
    pass


class Reconciler:
    def __init__(self, store: PaymentsStore, ledger: LevyLedger, gateway: MidtransGateway) -> None:
        self.store = store
        self.ledger = ledger
        self.gateway = gateway

    async def run(self, date_from: str, date_to: str) -> dict[str, Any]:
        order_ids = await self._candidates(date_from, date_to)
        if len(order_ids) > MAX_PAYMENTS:
            raise TooManyPayments(f"{len(order_ids)} payments in this period; reconcile at most {MAX_PAYMENTS} at a time")
        ledger = await self._ledger_side(order_ids)
        limit = asyncio.Semaphore(PARALLEL_CALLS)

        async def midtrans(order_id: str) -> tuple[str, dict[str, Any] | None, str | None]:
            async with limit:
                try:
                    return order_id, await self.gateway.status(order_id), None
                except MidtransRefused as error:
                    return order_id, None if error.status == 404 else {"transaction_status": f"error {error.status}"}, None
                except MidtransUnavailable as error:
                    return order_id, None, str(error)

        answers = await asyncio.gather(*(midtrans(order_id) for order_id in order_ids))
        mismatches, unchecked, matched = [], [], 0
        for order_id, status, error in answers:
            if error is not None:
                unchecked.append({"order_id": order_id, "error": error})
                continue
            ours = ledger.get(order_id, {"settled": False, "net_gross": 0})
            theirs = _midtrans_side(status)
            problem = None
            if theirs["settled"] and not ours["settled"]:
                problem = "settled_at_midtrans_only"
            elif ours["settled"] and not theirs["settled"]:
                problem = "settled_in_ledger_only"
            elif ours["settled"] and ours["net_gross"] != theirs["net_gross"]:
                problem = "amount_differs"
            if problem is None:
                matched += 1
                continue
            mismatches.append(
                {
                    "order_id": order_id,
                    "problem": problem,
                    "ledger_settled": ours["settled"],
                    "ledger_net_gross": ours["net_gross"],
                    "midtrans_status": theirs["status"],
                    "midtrans_net_gross": theirs["net_gross"],
                }
            )
        return {
            "date_from": date_from,
            "date_to": date_to,
            "payments_checked": len(order_ids),
            "matched": matched,
            "mismatches": mismatches,
            "unchecked": unchecked,
            # Money that arrived for orders no longer payable: booked, then returned (or waiting
            # for an operator). Returned ones also match above: levy and reversal net to zero.
            "late_payments": [
                late_view(p)
                for p in await self.store.payments.find({"_id": {"$in": order_ids}, "late_payment": {"$exists": True}}).to_list()
            ],
        }

    async def _candidates(self, date_from: str, date_to: str) -> list[str]:
        window = {"$gte": utc_from_day(date_from), "$lte": utc_from_day(date_to, end=True)}
        # Payments that reached Midtrans in the period, and anything the ledger recorded in it.
        ids = {
            p["_id"]
            for p in await self.store.payments.find(
                {"created_at": window, "status": {"$ne": PaymentStatus.OPENING.value}}, {"_id": 1}
            ).to_list()
        }
        pipeline = [{"$match": {"day": {"$gte": date_from, "$lte": date_to}}}, {"$group": {"_id": "$order_id"}}]
        ids |= {row["_id"] for row in await (await self.ledger.entries.aggregate(pipeline)).to_list()}
        return sorted(ids)

    async def _ledger_side(self, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        side: dict[str, dict[str, Any]] = {}
        for start in range(0, len(order_ids), 1_000):
            pipeline = [
                {"$match": {"order_id": {"$in": order_ids[start : start + 1_000]}}},
                {
                    "$group": {
                        "_id": "$order_id",
                        "net_gross": {"$sum": "$gross"},
                        "levied": {"$sum": {"$cond": [{"$eq": ["$kind", "levy"]}, 1, 0]}},
                    }
                },
            ]
            for row in await (await self.ledger.entries.aggregate(pipeline)).to_list():
                side[row["_id"]] = {"settled": row["levied"] > 0, "net_gross": row["net_gross"]}
        return side


def _midtrans_side(status: dict[str, Any] | None) -> dict[str, Any]:
    if status is None:
        return {"settled": False, "net_gross": 0, "status": "not_found"}
    transaction_status = str(status.get("transaction_status"))
    outcome = classify(transaction_status, status.get("fraud_status"))
    settled = outcome in (Outcome.PAID, Outcome.REFUNDED)
    gross = rupiah_from_midtrans(status.get("gross_amount", "0")) if settled else 0
    refunded = rupiah_from_midtrans(status.get("refund_amount", "0")) if settled else 0
    return {"settled": settled, "net_gross": gross - refunded, "status": transaction_status}
