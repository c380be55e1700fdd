"""Orders persistence: orders (each with the Idempotency-Key of the `POST /orders` that placed it),
and the unit of work of a transaction of consumed events (one `$in` read, one bulk write)."""

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from beli_contracts.values import PricedLine
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import BatchConflict
from beli_runtime.inbox import OpenUnits
from beli_runtime.mongo import DUPLICATE_KEY, Collection, Database, Session, drop_index, ensure_index, in_transaction
from orders.documents import OrderDocument, SubOrder
from orders.domain import OrderStatus, fulfilment_index, seller_state, sources_of

# Index fields a sweep finds due work by: absent (not null) when there is none.
SWEEP_FIELDS = ("oldest_shipped_at", "next_pickup_reminder_at")
# The field of an order that holds the Idempotency-Key its checkout claimed: key, fingerprint,
# the answer a retry replays, expires_at. Unset once expired and claimed again.
CLAIM = "idempotency"
# Orders carry their checkout's `order_placed` event until it is sent (outbox.py, checkouts.py).
ORDERS = "orders"


def new_order_id() -> str:
    # Also the Midtrans order_id: ≤ 50 chars of letters, digits and `-`.
    return f"BNTT-{uuid.uuid4().hex[:16].upper()}"


class UnitOfWork:
    """The orders of one transaction's consumed events (issue 11): read with one `$in` find before
    their handlers run, kept up to date in memory as the handlers move them, and their updates
    written with one ordered bulk write after them, instead of a find and an update per event.

    Deciding a transition from the order read in this transaction is what the update's own
    filter would decide: under snapshot isolation a concurrent change to the order makes the
    transaction conflict and retry, so the bulk write matching fewer orders than it updates means
    something is wrong, and the transaction is aborted (BatchConflict)."""

    def __init__(self, orders: dict[str, OrderDocument]) -> None:
        self.orders = orders
        self._updates: list[UpdateOne] = []

    def update(
        self, order_id: str, states: list[str], update: dict[str, Any], moved: OrderDocument, guard: dict[str, Any] | None = None
    ) -> None:
        self._updates.append(UpdateOne({"_id": order_id, "status": {"$in": states}, **(guard or {})}, update))
        self.orders[order_id] = moved

    async def write(self, collection: Collection, session: Session) -> None:
        if not self._updates:
            return
        updates, self._updates = self._updates, []
        result = await collection.bulk_write(updates, ordered=True, session=session)
        if result.matched_count != len(updates):
            raise BatchConflict(f"{len(updates)} order updates matched {result.matched_count} orders")


class OrdersStore:
    def __init__(self, db: Database, idempotency_ttl: timedelta) -> None:
        self.orders = db[ORDERS]
        self.idempotency_ttl = idempotency_ttl
        self._units: OpenUnits[UnitOfWork] = OpenUnits()

    @asynccontextmanager
    async def unit_of_work(self, session: Session, order_ids: Iterable[str]) -> AsyncIterator[None]:
        """Around the handlers of one transaction (the consumer's scope): see UnitOfWork."""
        wanted = sorted(set(order_ids))
        found = await self.orders.find({"_id": {"$in": wanted}}, session=session).to_list() if wanted else []
        unit = UnitOfWork({doc["_id"]: OrderDocument.from_document(doc) for doc in found})
        async with self._units.opened(session, unit, lambda: unit.write(self.orders, session)):
            yield

    async def _settle_unit(self, session: Session, order_id: str) -> None:
        """Before a write the unit of work does not hold: its updates go first, and the order is
        read from the database again after that write."""
        unit = self._units.of(session)
        if unit is not None:
            await unit.write(self.orders, session)
            unit.orders.pop(order_id, None)

    async def ensure_indexes(self) -> None:
        await ensure_index(self.orders, [("status", 1), ("updated_at", 1)])
        # Orders were first listed by the shopper's e-mail; no query has used this since they are
        # listed by account, and every write of an order paid for it (issue 11).
        await drop_index(self.orders, "customer.email_1_created_at_-1")
        # A shopper's own orders, newest first (GET /orders).
        await ensure_index(self.orders, [("customer.account_id", 1), ("created_at", -1), ("_id", -1)])
        # Sellers' lists (all, or by their sub-order's status) and the auto-complete sweep.
        await ensure_index(self.orders, [("seller_ids", 1), ("listing_key", -1)])
        await ensure_index(self.orders, [("seller_states", 1), ("listing_key", -1)])
        await ensure_index(self.orders, "oldest_shipped_at", sparse=True)
        # Outlets' lists of parcels (waiting, expected, handed over) and the pick-up reminder sweep.
        await ensure_index(self.orders, [("outlet_states", 1), ("listing_key", -1)])
        await ensure_index(self.orders, "next_pickup_reminder_at", sparse=True)
        # A key is claimed by at most one order; an order whose claim was released is not indexed.
        await ensure_index(self.orders, f"{CLAIM}.key", unique=True, sparse=True)
        await self._adopt_key_records()

    async def _adopt_key_records(self) -> None:
        """Versions before 2026-12-08 kept the keys in a collection of their own: the live ones
        move to their orders (which answer for them from now on) and the collection goes."""
        records = self.orders.database["idempotency_keys"]
        async for record in records.find({"expires_at": {"$gt": utcnow()}}):
            claim = {"key": record["_id"], **{field: record[field] for field in ("fingerprint", "response", "expires_at")}}
            with suppress(DuplicateKeyError):  # a checkout since the upgrade has claimed it again
                await self.orders.update_one({"_id": record["order_id"], CLAIM: {"$exists": False}}, {"$set": {CLAIM: claim}})
        await records.drop()

    async def remembered(self, key: str) -> dict[str, Any] | None:
        """The live claim of `key`: its order's id, the request's fingerprint and the answer."""
        document = await self.orders.find_one({f"{CLAIM}.key": key}, {CLAIM: 1})
        if document is None or document[CLAIM]["expires_at"] < utcnow():
            return None
        return {"order_id": document["_id"], **document[CLAIM]}

    def claiming(self, order: dict[str, Any], key: str, fingerprint: str, response: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The order as its checkout stores it: validated (a malformed order fails its checkout,
        not a later reader), with its claim of the key."""
        claim = {"key": key, "fingerprint": fingerprint, "response": response, "expires_at": now + self.idempotency_ttl}
        return OrderDocument.model_validate(order).to_document() | {CLAIM: claim}

    async def place(self, orders: Sequence[dict[str, Any]]) -> list[DuplicateKeyError | None]:
        """Insert each checkout's order (`claiming`, with its `order_placed` row embedded): one
        document each, so no transaction; one write for them all. Each fails alone, with a
        DuplicateKeyError, when its key is claimed by another order."""
        try:
            if len(orders) == 1:
                await self.orders.insert_one(orders[0])
            else:
                await self.orders.insert_many(orders, ordered=False)
        except DuplicateKeyError as error:
            return [error]
        except BulkWriteError as error:
            failed = {failure["index"]: failure for failure in error.details["writeErrors"]}
            if any(failure["code"] != DUPLICATE_KEY for failure in failed.values()):
                raise
            return [DuplicateKeyError(failed[n]["errmsg"], DUPLICATE_KEY, failed[n]) if n in failed else None for n in range(len(orders))]
        return [None] * len(orders)

    async def release(self, key: str, now: datetime) -> bool:
        """Free `key` if the claim on it has expired: the next checkout with it places a new order.
        A transaction, as any update of an order (outbox.OutboxRelay._forget says why)."""
        expired = {f"{CLAIM}.key": key, f"{CLAIM}.expires_at": {"$lt": now}}

        async def unset(session: Session) -> bool:
            return (await self.orders.update_one(expired, {"$unset": {CLAIM: ""}}, session=session)).modified_count == 1

        return await in_transaction(self.orders.database.client, unset)

    async def get(self, order_id: str, session: Session | None = None) -> OrderDocument | None:
        unit = self._units.of(session)
        if unit is not None and order_id in unit.orders:
            return unit.orders[order_id]
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
        states = from_states or sources_of(target)
        fields, change = _transition(target, changes or {})
        unit = self._units.of(session)
        if unit is not None and order_id in unit.orders:
            return _move_in(unit, unit.orders[order_id], states, fields, change)
        moved = await self.orders.find_one_and_update(
            {"_id": order_id, "status": {"$in": states}},
            {"$set": fields, "$push": {"history": change}},
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
        states = sources_of(target)
        fields, change = _transition(target, changes)
        unit = self._units.of(session)
        if unit is not None and current.id in unit.orders:
            return _move_in(unit, current, states, fields, change)
        moved = await self.orders.update_one(
            {"_id": current.id, "status": {"$in": states}}, {"$set": fields, "$push": {"history": change}}, session=session
        )
        return _applied(current, fields, change) if moved.matched_count == 1 else None

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
        await self._settle_unit(session, order.id)
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

    async def annotate(
        self, session: Session, order_id: str, changes: dict[str, Any], *, in_states: list[str], unless_set: str | None = None
    ) -> bool:
        """Set `changes` on an order in one of `in_states` (and, with `unless_set`, only while that
        field is still unset: the first value stays, a copy of its event writes nothing)."""
        fields = {**changes, "updated_at": utcnow()}
        guard = {unless_set: None} if unless_set else {}  # None matches a null or missing field
        unit = self._units.of(session)
        if unit is not None and order_id in unit.orders:
            current = unit.orders[order_id]
            if current.status not in in_states or (unless_set and getattr(current, unless_set) is not None):
                return False
            unit.update(order_id, in_states, {"$set": fields}, OrderDocument.from_document(current.to_document() | fields), guard)
            return True
        result = await self.orders.update_one({"_id": order_id, "status": {"$in": in_states}, **guard}, {"$set": fields}, session=session)
        return result.modified_count == 1

    async def record_refund(self, session: Session, order_id: str, refund: dict[str, Any]) -> None:
        """Count a refund once (by its entry id), whatever the order's status."""
        await self._settle_unit(session, order_id)
        await self.orders.update_one(
            {"_id": order_id, "refunds.entry_id": {"$ne": refund["entry_id"]}},
            {"$push": {"refunds": refund}, "$inc": {"refunded_total": refund["amount"]}},
            session=session,
        )


def _transition(target: OrderStatus, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields a transition sets and the history entry it adds."""
    now = utcnow()
    return {"status": target.value, "updated_at": now, **changes}, {"status": target.value, "at": now}


def _applied(current: OrderDocument, fields: dict[str, Any], change: dict[str, Any]) -> OrderDocument:
    document = current.to_document() | fields
    document["history"] = [*document.get("history", []), change]
    return OrderDocument.from_document(document)


def _move_in(
    unit: UnitOfWork, current: OrderDocument, states: list[str], fields: dict[str, Any], change: dict[str, Any]
) -> OrderDocument | None:
    """A transition decided on the order as this transaction read it (see UnitOfWork)."""
    if current.status not in states:
        return None
    moved = _applied(current, fields, change)
    unit.update(current.id, states, {"$set": fields, "$push": {"history": change}}, moved)
    return moved


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
