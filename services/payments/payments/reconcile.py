"""Reconciliation and the gross identity: the ledger against what Midtrans says (its status
API), payment by payment. Our own records of a payment are never the other side of a check."""

import asyncio
from typing import Any

from beli_runtime.errors import Refused
from payments.audit import LedgerFilter, sums
from payments.documents import PaymentDocument
from payments.domain import Outcome, PaymentStatus, classify, rupiah_from_midtrans
from payments.gateway import MidtransGateway, MidtransRefused, MidtransUnavailable
from payments.late import late_view
from payments.ledger import LevyLedger
from payments.levy import utc_from_day
from payments.store import PaymentsStore

MAX_PAYMENTS = 2_000  # each one is a call to Midtrans: a wider period must be split
PARALLEL_CALLS = 8


class Reconciler:
    def __init__(self, store: PaymentsStore, ledger: LevyLedger, gateway: MidtransGateway) -> None:
        self.store = store
        self.ledger = ledger
        self.gateway = gateway

    async def run(self, date_from: str, date_to: str) -> dict[str, Any]:
        order_ids = await self._candidates(date_from, date_to)
        if len(order_ids) > MAX_PAYMENTS:
            raise Refused(422, f"{len(order_ids)} payments in this period; reconcile at most {MAX_PAYMENTS} at a time", "from")
        ledger = await self._ledger_side(order_ids)
        answers = await self._statuses(order_ids)
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
                late_view(PaymentDocument.from_document(p))
                for p in await self.store.payments.find({"_id": {"$in": order_ids}, "late_payment": {"$exists": True}}).to_list()
            ],
        }

    async def _statuses(self, order_ids: list[str]) -> list[tuple[str, dict[str, Any] | None, str | None]]:
        """(order id, Midtrans's status answer or None if it has no such transaction, error if unreachable)."""
        limit = asyncio.Semaphore(PARALLEL_CALLS)

        async def midtrans(order_id: str) -> tuple[str, dict[str, Any] | None, str | None]:
            async with limit:
                try:
                    return order_id, await self.gateway.status(order_id), None
                except MidtransRefused as error:
                    return order_id, None if error.status == 404 else {"transaction_status": f"error {error.status}"}, None
                except MidtransUnavailable as error:
                    return order_id, None, str(error)

        return await asyncio.gather(*(midtrans(order_id) for order_id in order_ids))

    async def gross_identity(self, where: LedgerFilter) -> dict[str, Any]:
        """Per settled order: what Midtrans says was received (gross − refunds, from its status
        API, not from our own records) = Σ levy + Σ seller payable of the order's ledger entries.
        No shipping is charged through Midtrans today; it would be a third term here."""
        ledger = await self._order_amounts(where)
        order_ids = sorted(set(ledger) | await self._settled_without_entries(where))
        if len(order_ids) > MAX_PAYMENTS:
            raise Refused(422, f"{len(order_ids)} payments in this selection; check at most {MAX_PAYMENTS} at a time", "from")
        failures, unchecked = [], []
        for order_id, status, error in await self._statuses(order_ids):
            if error is not None:
                unchecked.append({"order_id": order_id, "error": error})
                continue
            failure = identity_failure(order_id, ledger.get(order_id), _midtrans_side(status))
            if failure is not None:
                failures.append(failure)
        return {
            "payments_checked": len(order_ids),
            "ok": not failures and not unchecked,
            "received_from": "midtrans status API",
            "failures": failures,
            "unchecked": unchecked,
        }

    async def _order_amounts(self, where: LedgerFilter) -> dict[str, dict[str, int]]:
        """The orders the filter covers (those with a levy entry in it) and, for each, the sums of
        all its chained entries: an order's identity holds for the whole order, refunds included."""
        bound = await self.ledger.chain_bound()
        levied = where.query() | {"kind": "levy", "sequence": bound}
        ids = [
            row["_id"]
            for row in await (await self.ledger.entries.aggregate([{"$match": levied}, {"$group": {"_id": "$order_id"}}])).to_list()
        ]
        amounts: dict[str, dict[str, int]] = {}
        for start in range(0, len(ids), 1_000):
            pipeline = [
                {"$match": {"order_id": {"$in": ids[start : start + 1_000]}, "sequence": bound}},
                {
                    "$group": {
                        "_id": "$order_id",
                        **sums(),
                        "lines_off": {"$sum": {"$cond": [{"$eq": ["$gross", {"$add": ["$levy", "$seller_payable"]}]}, 0, 1]}},
                    }
                },
            ]
            for row in await (await self.ledger.entries.aggregate(pipeline)).to_list():
                amounts[row.pop("_id")] = row
        return amounts

    async def _settled_without_entries(self, where: LedgerFilter) -> set[str]:
        """Payments our records call settled in the period: checked even when the ledger has nothing."""
        if not (where.date_from or where.date_to) or where.seller_id or where.regency or where.category:
            return set()  # only a pure period check can say a payment should have had entries
        window: dict[str, Any] = {}
        if where.date_from:
            window["$gte"] = utc_from_day(where.date_from)
        if where.date_to:
            window["$lte"] = utc_from_day(where.date_to, end=True)
        settled = [s.value for s in (PaymentStatus.SETTLED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)]
        query: dict[str, Any] = {"status": {"$in": settled}, "settled_at": window}
        if where.order_id:
            query["_id"] = where.order_id
        return {payment["_id"] for payment in await self.store.payments.find(query, {"_id": 1}).to_list()}

    async def _candidates(self, date_from: str, date_to: str) -> list[str]:
        window = {"$gte": utc_from_day(date_from), "$lte": utc_from_day(date_to, end=True)}
        # Payments that reached Midtrans in the period, and anything the ledger recorded in it.
        ids = {
            p["_id"]
            for p in await self.store.payments.find(
                {"created_at": window, "status": {"$ne": PaymentStatus.OPENING.value}}, {"_id": 1}
            ).to_list()
        }
        pipeline: list[dict[str, Any]] = [
            {"$match": {"day": {"$gte": date_from, "$lte": date_to}, "sequence": await self.ledger.chain_bound()}},
            {"$group": {"_id": "$order_id"}},
        ]
        ids |= {row["_id"] for row in await (await self.ledger.entries.aggregate(pipeline)).to_list()}
        return sorted(ids)

    async def _ledger_side(self, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        side: dict[str, dict[str, Any]] = {}
        bound = await self.ledger.chain_bound()
        for start in range(0, len(order_ids), 1_000):
            pipeline: list[dict[str, Any]] = [
                {"$match": {"order_id": {"$in": order_ids[start : start + 1_000]}, "sequence": bound}},
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
        return {"settled": False, "gross": 0, "refunded": 0, "net_gross": 0, "status": "not_found"}
    transaction_status = str(status.get("transaction_status"))
    outcome = classify(transaction_status, status.get("fraud_status"))
    settled = outcome in (Outcome.PAID, Outcome.REFUNDED)
    gross = rupiah_from_midtrans(status.get("gross_amount", "0")) if settled else 0
    refunded = rupiah_from_midtrans(status.get("refund_amount", "0")) if settled else 0
    return {"settled": settled, "gross": gross, "refunded": refunded, "net_gross": gross - refunded, "status": transaction_status}


def identity_failure(order_id: str, ours: dict[str, int] | None, theirs: dict[str, Any]) -> dict[str, Any] | None:
    """The order's difference between money received and money explained by the ledger, if any."""
    ours = ours or {"entries": 0, "gross": 0, "levy": 0, "seller_payable": 0, "lines_off": 0}
    explained = ours["levy"] + ours["seller_payable"]
    if theirs["net_gross"] == explained == ours["gross"] and not ours["lines_off"]:
        return None
    return {
        "order_id": order_id,
        "midtrans_status": theirs["status"],
        "midtrans_gross": theirs["gross"],
        "midtrans_refunded": theirs["refunded"],
        "gross_received": theirs["net_gross"],
        "ledger_gross": ours["gross"],
        "levy_total": ours["levy"],
        "seller_payable_total": ours["seller_payable"],
        "difference": theirs["net_gross"] - explained,
        "lines_not_adding_up": ours["lines_off"],
        **({"problem": "settled but no ledger entries"} if not ours["entries"] else {}),
    }
