"""Orders persistence: orders and the Idempotency-Key records of `POST /orders`."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from beli_contracts.values import PricedLine
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index

from orders.domain import OrderStatus, sources_of


def new_order_id() -> str:
    # Also the Midtrans order_id: ≤ 50 chars of letters, digits and `-`.
    return f"BNTT-{uuid.uuid4().hex[:16].upper()}"


class OrdersStore:
    def __init__(self, db: Database, idempotency_ttl: timedelta) -> None:
        self.orders = db["orders"]
        self.keys = db["idempotency_keys"]
        self.idempotency_ttl = idempotency_ttl

    async def ensure_indexes(self) -> None:
        await ensure_index(self.orders, [("status", 1), ("updated_at", 1)])
        await ensure_index(self.orders, [("customer.email", 1), ("created_at", -1)])
        # Keys are swept some time after they expire; lookups check `expires_at` themselves.
        await ensure_index(self.keys, "expires_at", expireAfterSeconds=0)

    async def remembered(self, key: str) -> dict[str, Any] | None:
        record = await self.keys.find_one({"_id": key})
        if record is None or record["expires_at"] < utcnow():
            return None
        return record

    async def place(self, session: Session, key: str, fingerprint: str, order: dict[str, Any], response: dict[str, Any]) -> None:
        now = utcnow()
        # An expired key that the TTL sweep has not yet removed is free to use again.
        await self.keys.delete_one({"_id": key, "expires_at": {"$lt": now}}, session=session)
        await self.keys.insert_one(
            {"_id": key, "fingerprint": fingerprint, "order_id": order["_id"], "response": response,
             "created_at": now, "expires_at": now + self.idempotency_ttl},
            session=session,
        )
        await self.orders.insert_one(order, session=session)

    async def get(self, order_id: str, session: Session | None = None) -> dict[str, Any] | None:
        return await self.orders.find_one({"_id": order_id}, session=session)

    async def move(self, session: Session, order_id: str, target: OrderStatus, changes: dict[str, Any] | None = None,
                   *, from_states: list[str] | None = None) -> dict[str, Any] | None:
        """Apply a transition if the order is in a state that allows it; the updated order, or None."""
        now = utcnow()
        return await self.orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": from_states or sources_of(target)}},
            {"$set": {"status": target.value, "updated_at": now, **(changes or {})},
             "$push": {"history": {"status": target.value, "at": now}}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    async def stuck(self, pending_before: datetime, pay_before: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Orders the saga left hanging: never reserved, or never paid well past the deadline."""
        return await self.orders.find({"$or": [
            {"status": OrderStatus.PENDING.value, "created_at": {"$lt": pending_before}},
            {"status": OrderStatus.AWAITING_PAYMENT.value, "pay_before": {"$lt": pay_before}},
        ]}, {"_id": 1, "status": 1}).limit(limit).to_list()

    async def annotate(self, session: Session, order_id: str, changes: dict[str, Any], *, in_states: list[str]) -> bool:
        result = await self.orders.update_one({"_id": order_id, "status": {"$in": in_states}},
                                              {"$set": {**changes, "updated_at": utcnow()}}, session=session)
        return result.modified_count == 1


def new_order(order_id: str, customer: dict[str, Any], items: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    return {
        "_id": order_id,
        "status": OrderStatus.PENDING.value,
        "customer": customer,
        "items": items,
        "lines": [],
        "total": None,
        "levy_total": None,
        "payment": None,
        "pay_before": None,
        "created_at": now,
        "updated_at": now,
        "history": [{"status": OrderStatus.PENDING.value, "at": now}],
    }


def priced(lines: list[PricedLine]) -> list[dict[str, Any]]:
    return [line.model_dump() | {"subtotal": line.subtotal} for line in lines]
