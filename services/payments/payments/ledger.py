"""The PAD levy ledger: one entry per order line of every settled payment. Append-only."""

from typing import Any

from beli_contracts.values import SettledLine
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index


class LevyLedger:
    def __init__(self, db: Database) -> None:
        self.entries = db["levy_entries"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.entries, [("order_id", 1)])
        await ensure_index(self.entries, [("recorded_at", 1)])

    async def record_settlement(self, session: Session, order_id: str, lines: list[SettledLine], rate_bps: dict[str, int]) -> None:
        now = utcnow()
        # The _id makes a second recording of the same settlement impossible, whatever the path.
        await self.entries.insert_many(
            [
                {
                    "_id": f"{order_id}:{line.product_id}:levy",
                    "kind": "levy",
                    "order_id": order_id,
                    "product_id": line.product_id,
                    "product_name": line.product_name,
                    "seller_id": line.seller.seller_id,
                    "seller_name": line.seller.name,
                    "regency": line.seller.regency,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "gross": line.subtotal,
                    "levy": line.levy,
                    "seller_payable": line.seller_payable,
                    "rule_id": line.levy_rule_id,
                    "rule_version": line.levy_rule_version,
                    "rate_bps": rate_bps[line.product_id],
                    "recorded_at": now,
                }
                for line in lines
            ],
            session=session,
        )

    async def for_order(self, order_id: str) -> list[dict[str, Any]]:
        return await self.entries.find({"order_id": order_id}).sort("_id", 1).to_list()
