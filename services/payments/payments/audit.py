"""Read-only questions the province's finance office asks of the ledger, and month closing.

Every total here is a sum of ledger entries (reversals are negative), computed by the
database over exactly the entries the same filter lists, so a summary always adds up to the
entries it covers.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from payments.domain import PaymentStatus
from payments.ledger import HEAD_ID, LevyLedger
from payments.levy import GENESIS_HASH, month_has_ended, utc_from_day
from payments.store import PaymentsStore

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
GROUPS = {"day": "day", "month": "period", "regency": "regency", "seller": "seller_id", "category": "category"}
AMOUNTS = ("gross", "levy", "seller_payable")


class AuditRefused(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class LedgerFilter:
    """`date_from`/`date_to`: WITA calendar days (inclusive) the entry was recorded on;
    `period`: the accounting month it counts in (differs only for entries after a closing)."""

    date_from: str | None = None
    date_to: str | None = None
    period: str | None = None
    regency: str | None = None
    seller_id: str | None = None
    category: str | None = None
    order_id: str | None = None
    kind: str | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.date_from or self.date_to:
            query["day"] = {**({"$gte": self.date_from} if self.date_from else {}), **({"$lte": self.date_to} if self.date_to else {})}
        for field in ("period", "regency", "seller_id", "category", "order_id", "kind"):
            if getattr(self, field) is not None:
                query[field] = getattr(self, field)
        return query


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {"entries": sum(r["entries"] for r in rows), **{a: sum(r[a] for r in rows) for a in AMOUNTS}}


def _sums() -> dict[str, Any]:
    return {"entries": {"$sum": 1}, **{a: {"$sum": f"${a}"} for a in AMOUNTS}}


class LevyAudit:
    def __init__(self, runtime: ServiceRuntime, ledger: LevyLedger, store: PaymentsStore) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.store = store

    async def listing(self, where: LedgerFilter, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page in chain order; the cursor is the last sequence seen (stable while entries are appended)."""
        query = where.query() | {"sequence": {"$gt": after}}
        page = await self.ledger.entries.find(query).sort("sequence", 1).limit(limit + 1).to_list()
        more = len(page) > limit
        page = page[:limit]
        return page, (page[-1]["sequence"] if more and page else None)

    async def stream(self, where: LedgerFilter, batch: int = 2_000) -> AsyncIterator[dict[str, Any]]:
        after = 0
        while True:
            page, cursor = await self.listing(where, after, batch)
            for entry in page:
                yield entry
            if cursor is None:
                return
            after = cursor

    async def summary(self, group_by: str, where: LedgerFilter) -> dict[str, Any]:
        if group_by not in GROUPS:
            raise AuditRefused(422, f"group_by must be one of {', '.join(GROUPS)}", "group_by")
        group: dict[str, Any] = {"_id": f"${GROUPS[group_by]}", **_sums()}
        pipeline: list[dict[str, Any]] = [{"$match": where.query()}]
        if group_by == "seller":
            # The seller's latest name; the sort is paid only where a name is shown.
            pipeline.append({"$sort": {"sequence": 1}})
            group["seller_name"] = {"$last": "$seller_name"}
        pipeline += [{"$group": group}, {"$sort": {"_id": 1}}]
        rows = [{"key": row.pop("_id"), **row} for row in await (await self.ledger.entries.aggregate(pipeline)).to_list()]
        return {"group_by": group_by, "rows": rows, "totals": _totals(rows)}

    async def gross_identity(self, where: LedgerFilter) -> dict[str, Any]:
        """gross received = Σ levy + Σ seller payable, for every settled payment the filter covers."""
        levied = LedgerFilter(**{**where.__dict__, "kind": "levy"})
        pipeline = [
            {"$match": levied.query()},
            {
                "$group": {
                    "_id": "$order_id",
                    **_sums(),
                    "lines_off": {"$sum": {"$cond": [{"$eq": ["$gross", {"$add": ["$levy", "$seller_payable"]}]}, 0, 1]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        orders = await (await self.ledger.entries.aggregate(pipeline)).to_list()
        received: dict[str, int] = {}
        ids = [o["_id"] for o in orders]
        for start in range(0, len(ids), 1_000):
            for payment in await self.store.payments.find({"_id": {"$in": ids[start : start + 1_000]}}, {"gross_amount": 1}).to_list():
                received[payment["_id"]] = payment["gross_amount"]
        failures = []
        for order in orders:
            gross_received = received.get(order["_id"])
            explained = order["levy"] + order["seller_payable"]
            if gross_received != explained or order["gross"] != explained or order["lines_off"]:
                failures.append(
                    {
                        "order_id": order["_id"],
                        "gross_received": gross_received,
                        "ledger_gross": order["gross"],
                        "levy_total": order["levy"],
                        "seller_payable_total": order["seller_payable"],
                        "difference": (gross_received or 0) - explained,
                        "lines_not_adding_up": order["lines_off"],
                    }
                )
        failures += await self._settled_without_entries(where, set(ids))
        return {"payments_checked": len(orders), "ok": not failures, "failures": failures}

    async def _settled_without_entries(self, where: LedgerFilter, seen: set[str]) -> list[dict[str, Any]]:
        if not (where.date_from or where.date_to) or where.seller_id or where.regency or where.category:
            return []  # only a pure period check can say a payment should have had entries
        window: dict[str, Any] = {}
        if where.date_from:
            window["$gte"] = utc_from_day(where.date_from)
        if where.date_to:
            window["$lte"] = utc_from_day(where.date_to, end=True)
        settled = [s.value for s in (PaymentStatus.SETTLED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)]
        query: dict[str, Any] = {"status": {"$in": settled}, "settled_at": window}
        if where.order_id:
            query["_id"] = where.order_id
        missing = []
        for payment in await self.store.payments.find(query, {"gross_amount": 1}).to_list():
            if payment["_id"] not in seen:
                missing.append(
                    {
                        "order_id": payment["_id"],
                        "gross_received": payment["gross_amount"],
                        "ledger_gross": 0,
                        "levy_total": 0,
                        "seller_payable_total": 0,
                        "difference": payment["gross_amount"],
                        "lines_not_adding_up": 0,
                        "problem": "settled but no ledger entries",
                    }
                )
        return missing

    # --- closing months --------------------------------------------------------------------

    async def _first_month(self) -> str | None:
        first = await self.ledger.entries.find_one({}, {"period": 1, "original_period": 1}, sort=[("sequence", 1)])
        return None if first is None else first.get("original_period") or first["period"]

    async def closings(self) -> list[dict[str, Any]]:
        return await self.ledger.closings.find().sort("_id", 1).to_list()

    async def close(self, period: str, closed_by: str, note: str) -> dict[str, Any]:
        if not PERIOD.match(period):
            raise AuditRefused(422, f"period must look like YYYY-MM, got {period!r}", "period")
        if not month_has_ended(period, utcnow()):
            raise AuditRefused(409, f"{period} has not ended yet (WITA): only past months can be closed", "period")
        # Closing is permanent: a month before the ledger began (0000-01, say) is a mistake, never a closing.
        first = await self._first_month()
        if first is None or period < first:
            began = f"the ledger begins in {first}" if first else "the ledger has no entries yet"
            raise AuditRefused(422, f"{period} is before the ledger's first month: {began}", "period")

        async def work(session: Session) -> dict[str, Any]:
            # Writing the head serialises the closing with every append (see ledger.py).
            await self.ledger.meta.update_one(
                {"_id": HEAD_ID},
                {"$setOnInsert": {"sequence": 0, "hash": GENESIS_HASH}, "$set": {"claimed_at": utcnow()}},
                upsert=True,
                session=session,
            )
            head = await self.ledger.head(session)
            if period in head.get("closed", []):
                raise AuditRefused(409, f"{period} is already closed", "period")
            pipeline = [{"$match": {"period": period}}, {"$group": {"_id": None, **_sums()}}]
            found = await (await self.ledger.entries.aggregate(pipeline, session=session)).to_list()
            totals = {"entries": 0, **{a: 0 for a in AMOUNTS}} | ({k: v for k, v in found[0].items() if k != "_id"} if found else {})
            closing = {
                "_id": period,
                **totals,
                "head_sequence": head["sequence"],
                "head_hash": head["hash"],
                "closed_by": closed_by,
                "note": note,
                "closed_at": utcnow(),
            }
            await self.ledger.closings.insert_one(closing, session=session)
            await self.ledger.meta.update_one({"_id": HEAD_ID}, {"$addToSet": {"closed": period}}, session=session)
            return closing

        return await self.runtime.write(work)
