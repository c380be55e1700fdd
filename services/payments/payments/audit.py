"""Read-only questions the province's finance office asks of the ledger.

Every total here is a sum of ledger entries (reversals are negative), computed by the
database over exactly the entries the same filter lists, so a summary always adds up to the
entries it covers. Only entries inside the hash chain count (sequence 1..head): one written
around the chain is never verified, so it is never counted either (verify names it).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from beli_runtime.errors import Refused
from payments.ledger import LevyLedger

GROUPS = {"day": "day", "month": "period", "regency": "regency", "seller": "seller_id", "category": "category", "channel": "channel"}
ONLINE = "online"
AMOUNTS = ("gross", "levy", "seller_payable")


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
    # "online", "outlet" (every NTT Mart outlet) or "outlet:<outlet id>" (one outlet).
    channel: str | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.date_from or self.date_to:
            query["day"] = {**({"$gte": self.date_from} if self.date_from else {}), **({"$lte": self.date_to} if self.date_to else {})}
        for field in ("period", "regency", "seller_id", "category", "order_id", "kind"):
            if getattr(self, field) is not None:
                query[field] = getattr(self, field)
        if self.channel is not None:
            query["channel"] = channel_query(self.channel)
        return query


def channel_query(channel: str) -> Any:
    """Online entries name no channel (they keep the fields they always had); outlet entries do."""
    if channel == ONLINE:
        return None
    if channel == "outlet":
        return {"$gt": "outlet:", "$lt": "outlet;"}  # every "outlet:<id>" (';' follows ':')
    return channel


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {"entries": sum(r["entries"] for r in rows), **{a: sum(r[a] for r in rows) for a in AMOUNTS}}


def sums() -> dict[str, Any]:
    return {"entries": {"$sum": 1}, **{a: {"$sum": f"${a}"} for a in AMOUNTS}}


class LevyAudit:
    def __init__(self, ledger: LevyLedger) -> None:
        self.ledger = ledger

    async def listing(self, where: LedgerFilter, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page in chain order; the cursor is the last sequence seen (stable while entries are appended)."""
        query = where.query() | {"sequence": await self.ledger.chain_bound() | {"$gt": after}}
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
            raise Refused(422, f"group_by must be one of {', '.join(GROUPS)}", "group_by")
        group: dict[str, Any] = {"_id": f"${GROUPS[group_by]}", **sums()}
        pipeline: list[dict[str, Any]] = [{"$match": where.query() | {"sequence": await self.ledger.chain_bound()}}]
        if group_by == "seller":
            # The seller's latest name; the sort is paid only where a name is shown.
            pipeline.append({"$sort": {"sequence": 1}})
            group["seller_name"] = {"$last": "$seller_name"}
        pipeline += [{"$group": group}, {"$sort": {"_id": 1}}]
        found = await (await self.ledger.entries.aggregate(pipeline)).to_list()
        # By channel, online entries (no channel field) group under None: call them what they are.
        rows = []
        for row in found:
            key = row.pop("_id")
            rows.append({"key": ONLINE if group_by == "channel" and key is None else key, **row})
        return {"group_by": group_by, "rows": rows, "totals": _totals(rows)}
