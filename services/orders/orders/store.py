"""Orders persistence: orders and the Idempotency-Key records of `POST /orders`."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from beli_contracts.values import PricedLine
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from orders.documents import OrderDocument, SubOrder
from orders.domain import OrderStatus, fulfilment_index, seller_state, sources_of

# Index fields a sweep finds due work by: absent (not null) when there is none.
SWEEP_FIELDS = ("oldest_shipped_at", "next_pickup_reminder_at")


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
        # A shopper's own orders, newest first (GET /orders).
        await ensure_index(self.orders, [("customer.account_id", 1), ("created_at", -1), ("_id", -1)])
        # Sellers' lists (all, or by their sub-order's status) and the auto-complete sweep.
        await ensure_index(self.orders, [("seller_ids", 1), ("listing_key", -1)])
        await ensure_index(self.orders, [("seller_states", 1), ("listing_key", -1)])
        await ensure_index(self.orders, "oldest_shipped_at", sparse=True)
        # Outlets' lists of parcels (waiting, expected, handed over) and the pick-up reminder sweep.
        await ensure_index(self.orders, [("outlet_states", 1), ("listing_key", -1)])
        await ensure_index(self.orders, "next_pickup_reminder_at", sparse=True)
        # Keys are swept some time after they expire; lookups check `expires_at` themselves.
        await ensure_index(self.keys, "expires_at", expireAfterSeconds=0)

    async def remembered(self, key: str) -> dict[str, Any] | None:
        record = await self.keys.find_one({"_id": key})
        if record is None or record["expires_at"] < utcnow():
            return None
        return record

    async def place(self, session: Session, key: str, fingerprint: str, order: dict[str, Any], response: dict[str, Any]) -> None:
        now = utcnow()
        # One write claims the key: it replaces an expired record that the TTL sweep has not yet
        # removed (free to use again), inserts where there is none, and fails with a duplicate key
        # where a live one exists (a concurrent checkout with the same key won). It was a delete
        # and an insert: one database operation fewer per order (issue 11).
        await self.keys.replace_one(
            {"_id": key, "expires_at": {"$lt": now}},
            {
                "fingerprint": fingerprint,
                "order_id": order["_id"],
                "response": response,
                "created_at": now,
                "expires_at": now + self.idempotency_ttl,
            },
            upsert=True,
            session=session,
        )
        # Validated before it is stored: a malformed order fails its checkout, not a later reader.
        await self.orders.insert_one(OrderDocument.model_validate(order).to_document(), session=session)

    async def get(self, order_id: str, session: Session | None = None) -> OrderDocument | None:
        return OrderDocument.maybe(await self.orders.find_one({"_id": order_id}, session=session))

    async def move(
        self,
        session: Session,
        order_id: str,
        target: OrderStatus,
        changes: dict[str, Any] | None = None,
        *,
        from_states: list[str] | None = None,
    ) -> OrderDocument | None:
        """Apply a transition if the order is in a state that allows it; the updated order, or None."""
        now = utcnow()
        moved = await self.orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": from_states or sources_of(target)}},
            {
                "$set": {"status": target.value, "updated_at": now, **(changes or {})},
                "$push": {"history": {"status": target.value, "at": now}},
            },
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return OrderDocument.maybe(moved)

    async def move_read(
        self, session: Session, current: OrderDocument, target: OrderStatus, changes: dict[str, Any]
    ) -> OrderDocument | None:
        """`move` for an order read in this same transaction: an update by `_id`, the moved order
        built from what was read (no `findAndModify` to hand it back), as the transaction's snapshot
        guarantees it still is (a concurrent change conflicts, and the transaction is retried)."""
        now = utcnow()
        fields = {"status": target.value, "updated_at": now, **changes}
        change = {"status": target.value, "at": now}
        moved = await self.orders.update_one(
            {"_id": current.id, "status": {"$in": sources_of(target)}}, {"$set": fields, "$push": {"history": change}}, session=session
        )
        if moved.matched_count != 1:
            return None
        document = current.to_document() | fields
        document["history"] = [*document.get("history", []), change]
        return OrderDocument.from_document(document)

    async def save_fulfilment(
        self,
        session: Session,
        order: OrderDocument,
        sub_orders: list[SubOrder],
        status: OrderStatus | None = None,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        """Write new sub-orders (and the order's status if it changed) only if nobody else changed
        them since `order` was read: False means a concurrent change won, read again and retry."""
        now = utcnow()
        index = fulfilment_index(sub_orders)
        # Unset rather than null, so that the sparse indexes of the sweeps hold only what is due.
        unset = {name: "" for name in SWEEP_FIELDS if index[name] is None}
        version = order.fulfilment_version
        update: dict[str, Any] = {
            "$set": {
                "sub_orders": [sub.to_document() for sub in sub_orders],
                **{k: v for k, v in index.items() if k not in unset},
                "updated_at": now,
                "fulfilment_version": (version or 0) + 1,
                **(changes or {}),
            }
        }
        if unset:
            update["$unset"] = unset
        if status is not None and status.value != order.status:
            update["$set"]["status"] = status.value
            update["$push"] = {"history": {"status": status.value, "at": now}}
        guard = {
            "_id": order.id,
            "status": order.status,
            "fulfilment_version": version if version is not None else {"$exists": False},
        }
        result = await self.orders.update_one(guard, update, session=session)
        return result.modified_count == 1

    async def seller_orders(self, seller_id: str, status: str | None, before: str | None, limit: int) -> list[OrderDocument]:
        """One seller's orders, newest first, strictly older than the cursor `before`."""
        query: dict[str, Any] = {"seller_states": seller_state(seller_id, status)} if status else {"seller_ids": seller_id}
        return await self._listing(query, before, limit)

    async def outlet_orders(self, outlet_id: str, status: str, before: str | None, limit: int) -> list[OrderDocument]:
        """Orders with a parcel in `status` at the outlet, newest first, older than the cursor."""
        return await self._listing({"outlet_states": seller_state(outlet_id, status)}, before, limit)

    async def _listing(self, query: dict[str, Any], before: str | None, limit: int) -> list[OrderDocument]:
        if before:
            query["listing_key"] = {"$lt": before}
        return [OrderDocument.from_document(doc) for doc in await self.orders.find(query).sort("listing_key", -1).limit(limit).to_list()]

    async def pickup_reminders_due(self, now: datetime, limit: int = 100) -> list[str]:
        found = await self.orders.find({"next_pickup_reminder_at": {"$lte": now}}, {"_id": 1}).limit(limit).to_list()
        return [doc["_id"] for doc in found]

    async def shipped_before(self, cutoff: datetime, limit: int = 100) -> list[str]:
        """Orders with a sub-order in transit since before `cutoff`."""
        found = await self.orders.find({"oldest_shipped_at": {"$lt": cutoff}}, {"_id": 1}).limit(limit).to_list()
        return [doc["_id"] for doc in found]

    async def stuck(self, pending_before: datetime, pay_before: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Orders the saga left hanging: never reserved, or never paid well past the deadline."""
        return (
            await self.orders.find(
                {
                    "$or": [
                        {"status": OrderStatus.PENDING.value, "created_at": {"$lt": pending_before}},
                        {"status": OrderStatus.AWAITING_PAYMENT.value, "pay_before": {"$lt": pay_before}},
                    ]
                },
                {"_id": 1, "status": 1},
            )
            .limit(limit)
            .to_list()
        )

    async def annotate(self, session: Session, order_id: str, changes: dict[str, Any], *, in_states: list[str]) -> bool:
        result = await self.orders.update_one(
            {"_id": order_id, "status": {"$in": in_states}}, {"$set": {**changes, "updated_at": utcnow()}}, session=session
        )
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
