"""The stock work of one transaction (issue 11): the products and holds that the handlers of a
consumer's transaction read and write, shared by them.

Before the handlers run, one `$in` read of the products their orders reserve (with those of the
paid orders, since the read is made anyway) and one of the holders' unpaid reservations. The
handlers move units on those documents in memory, each seeing the moves of the ones before it (two
orders of one product in one batch both count the units the other took), and their writes go out
after the last handler: one bulk write of the products, one of the holders.

No version guard on a product: the transaction read it and writes it against its snapshot, so a
concurrent writer makes one of the two transactions conflict and run again. Each update keeps its
`take >= quantity` condition all the same (units never go below zero, whatever happened), and a
bulk write that matches fewer documents than it has updates raises: the transaction aborts and
the consumer writes its events again one at a time.

The reservations' writes of a transaction of several events go out with them too (one bulk write,
first): each new reservation an upsert that must insert, each commit an update that must match the
held reservation with the paid lines. Neither is read first (a read of the transaction's
reservations would cost what it saves for the bench's two or three events per transaction): a
second order_placed of an order reserved before, or a payment that does not find its hold held as
paid (a late payment, a redelivery under another event id, both rare), makes the bulk write insert
or match fewer than it should, and the transaction aborts as above. Written again one event at a
time, each handler writes its reservation at once, as outside a consumer's scope, and learns from
that write whether the order is new or its hold held as paid before it moves any units, so units
never move twice. A handler that reads or writes a reservation at once (a release, a second event
of the same order) first writes those collected for it, so that it sees them.
"""

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from beli_runtime.group_commit import BatchConflict
from beli_runtime.inbox import OpenUnits
from beli_runtime.mongo import Collection, Database, Session
from catalog import units
from catalog.documents import ProductDocument, ReservationDocument, ReservationLine


@dataclass(frozen=True)
class Wanted:
    """What a transaction's handlers will read, known from their events."""

    reserving: list[str] = field(default_factory=list)  # products of placed orders: read
    selling: list[str] = field(default_factory=list)  # products of paid orders: read with those, if any
    holders: list[str] = field(default_factory=list)  # whose unpaid reservations the hold limits count
    events: int = 1  # whose handlers share the work: with several, their reservation writes are collected


class ReservationWrites:
    """A transaction's reservation writes, each with what its result must be (see the module's
    docstring): written with one ordered bulk write."""

    def __init__(self) -> None:
        self.orders: set[str] = set()
        self._writes: list[UpdateOne] = []
        self._inserting: list[str] = []
        self._matching = 0

    def insert(self, reservation: ReservationDocument) -> None:
        """The order's reservation, which must be new (the upsert inserts)."""
        document = reservation.to_document() | {"_id": reservation.id}
        self._writes.append(UpdateOne({"_id": reservation.id}, {"$setOnInsert": document}, upsert=True))
        self._inserting.append(reservation.id)
        self.orders.add(reservation.id)

    def update(self, where: dict[str, Any], change: dict[str, Any]) -> None:
        """An update that must match its reservation (`where` names it by `_id`)."""
        self._writes.append(UpdateOne(where, change))
        self._matching += 1
        self.orders.add(where["_id"])

    async def write(self, collection: Collection, session: Session) -> None:
        if not self._writes:
            return
        writes, inserting, matching = self._writes, sorted(self._inserting), self._matching
        self.orders, self._writes, self._inserting, self._matching = set(), [], [], 0
        done = await collection.bulk_write(writes, ordered=True, session=session)
        inserted = sorted((done.upserted_ids or {}).values())
        # An upsert that found its reservation counts as matched: the inserts are checked first.
        if inserted != inserting or done.matched_count != matching:
            raise BatchConflict(
                f"reservations: {len(inserted)} of {len(inserting)} new, {done.matched_count} of {matching} updates matched"
            )


class StockWork:
    def __init__(self, db: Database, collects: bool = False) -> None:
        self._products = db["products"]
        self._reservations = db["reservations"]
        # None: each reservation write is made at once by its handler (one event, or no consumer's scope)
        self._reservation_writes = ReservationWrites() if collects else None
        self._holders = db["holders"]
        self._found: dict[str, ProductDocument | None] = {}
        # holder -> order id -> lines of its held reservation, as read and then changed here
        self._holds: dict[str, dict[str, list[ReservationLine]]] = {}
        # sales of held units written without reading their product (see sell_held)
        self._unread_sales: dict[str, list[tuple[str | None, int, datetime]]] = {}
        self._writes: list[UpdateOne] = []
        self._touched: dict[str, int] = {}

    def defers(self, order_id: str) -> "ReservationWrites | None":
        """Where the order's reservation write waits for the flush, if it may (several events, and
        none of this order collected yet: a second one is made at once, after the first)."""
        writes = self._reservation_writes
        return writes if writes is not None and order_id not in writes.orders else None

    async def written_for(self, session: Session, order_id: str) -> None:
        """Before a reservation is read or written at once: the writes collected for it go first."""
        if self._reservation_writes is not None and order_id in self._reservation_writes.orders:
            await self._reservation_writes.write(self._reservations, session)

    async def load(self, session: Session, wanted: Wanted) -> None:
        if wanted.reserving:
            await self._read_products(session, [*wanted.reserving, *wanted.selling])
        if wanted.holders:
            await self._read_holds(session, wanted.holders)

    async def products(self, session: Session, product_ids: Iterable[str]) -> dict[str, ProductDocument | None]:
        """The products as this transaction has them (those not read yet in one read)."""
        ids = list(dict.fromkeys(product_ids))
        await self._read_products(session, [product_id for product_id in ids if product_id not in self._found])
        return {product_id: self._found[product_id] for product_id in ids}

    async def held_by(self, session: Session, holder: str) -> dict[str, int]:
        """Units per product the holder keeps in unpaid orders."""
        if holder not in self._holds:
            if self._reservation_writes is not None:
                await self._reservation_writes.write(self._reservations, session)  # the read sees them
            await self._read_holds(session, [holder])
        held: dict[str, int] = {}
        for lines in self._holds[holder].values():
            for line in lines:
                held[line.product_id] = held.get(line.product_id, 0) + line.quantity
        return held

    def touch(self, holder: str) -> None:
        """Count a reservation on the holder's row: two transactions reserving for one holder then
        write the same document, so one of them conflicts and runs again; both cannot pass the
        hold limits on reads that miss the other's reservation."""
        self._touched[holder] = self._touched.get(holder, 0) + 1

    def untouch(self, holder: str) -> None:
        """Take back a count for a reservation not made (the order had one: a copy of its event),
        so that a copy leaves the holder's row as it was."""
        left = self._touched.pop(holder, 0) - 1
        if left > 0:
            self._touched[holder] = left

    def hold(self, holder: str, order_id: str, lines: list[ReservationLine]) -> None:
        if holder in self._holds:
            self._holds[holder][order_id] = lines

    def unhold(self, order_id: str) -> None:
        """The order's reservation is no longer held (committed or released in this transaction)."""
        for orders in self._holds.values():
            orders.pop(order_id, None)

    def has(self, product_id: str, variant_id: str | None, quantity: int, take: units.Pool) -> bool:
        """Whether a product this transaction read has the units to move, as it has them now."""
        return units.can_take(self._found.get(product_id), variant_id, quantity, take)

    def move(self, product_id: str, variant_id: str | None, quantity: int, take: units.Pool, give: units.Pool, now: datetime) -> units.Move:
        """Move units of a product this transaction read; the callers checked that they are there."""
        product = self._found.get(product_id)
        if product is None or not self.has(product_id, variant_id, quantity, take):
            raise RuntimeError(f"no {quantity} {take} units of {product_id}/{variant_id} to move")
        move = units.move(product, variant_id, quantity, take, give, now)
        self._found[product_id] = move.after
        self._writes.append(UpdateOne(move.filter, move.update, array_filters=move.array_filters))
        return move

    def sell_held(self, product_id: str, variant_id: str | None, quantity: int, now: datetime) -> None:
        """Held units become sold: moved in memory if the product was read, or else written without
        a read (available units and the alert state do not change; a variant's reserved and sold
        move its product's totals by the same amounts). A held reservation's units are in its
        products' reserved units (they moved there together), so the update must match."""
        if product_id in self._found:
            self.move(product_id, variant_id, quantity, "reserved", "sold", now)
            return
        where, change, array_filters = units.sell_held(product_id, variant_id, quantity, now)
        self._writes.append(UpdateOne(where, change, array_filters=array_filters))
        self._unread_sales.setdefault(product_id, []).append((variant_id, quantity, now))

    async def flush(self, session: Session) -> None:
        if self._reservation_writes is not None:
            await self._reservation_writes.write(self._reservations, session)
        if self._touched:
            touches = [UpdateOne({"_id": holder}, {"$inc": {"reservations": n}}, upsert=True) for holder, n in self._touched.items()]
            done = await self._holders.bulk_write(touches, ordered=True, session=session)
            _expect("holders", done.matched_count + done.upserted_count, len(touches))
        if self._writes:
            done = await self._products.bulk_write(self._writes, ordered=True, session=session)
            _expect("products", done.matched_count, len(self._writes))

    async def _read_products(self, session: Session, product_ids: list[str]) -> None:
        if not product_ids:
            return
        ids = list(dict.fromkeys(product_ids))
        self._found |= dict.fromkeys(ids)
        async for document in self._products.find({"_id": {"$in": ids}}, session=session):
            product = ProductDocument.from_document(document)
            # Sales written earlier in this transaction without a read are not in the stored
            # document yet: the product as this transaction has it includes them.
            for variant_id, quantity, now in self._unread_sales.pop(product.id, []):
                product = units.move(product, variant_id, quantity, "reserved", "sold", now).after
            self._found[product.id] = product

    async def _read_holds(self, session: Session, holders: list[str]) -> None:
        for holder in holders:
            self._holds.setdefault(holder, {})
        query = {"holder": {"$in": list(dict.fromkeys(holders))}, "status": "held"}
        async for reservation in self._reservations.find(query, {"holder": 1, "lines": 1}, session=session):
            lines = [ReservationLine.model_validate(line) for line in reservation["lines"]]
            self._holds[reservation["holder"]].setdefault(reservation["_id"], lines)


def _expect(collection: str, matched: int, updates: int) -> None:
    if matched < updates:
        # What the transaction read no longer holds: it must not commit (see BatchConflict).
        raise BatchConflict(f"{collection}: {matched} of {updates} updates matched")


class StockWorks:
    """The stock work of each transaction a consumer's scope opened, by its session."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._open: OpenUnits[StockWork] = OpenUnits()

    @asynccontextmanager
    async def around(self, session: Session, wanted: Wanted) -> AsyncIterator[None]:
        """The scope of a transaction's handlers: read before them, written after them."""
        work = StockWork(self._db, collects=wanted.events > 1)
        await work.load(session, wanted)
        async with self._open.opened(session, work, lambda: work.flush(session)):
            yield

    @asynccontextmanager
    async def of(self, session: Session, wanted: Wanted) -> AsyncIterator[StockWork]:
        """A handler's stock work: its transaction's, or one of its own outside a scope (the
        reservation sweeper), read now and written when the handler is done."""
        shared = self._open.of(session)
        if shared is not None:
            yield shared
            return
        work = StockWork(self._db)
        await work.load(session, wanted)
        yield work
        await work.flush(session)
