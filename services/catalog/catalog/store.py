"""Catalog persistence: sellers, products (with available/reserved/sold units, per product or
per variant) and reservations.

Stock is never decremented without the condition `stock >= quantity` in the same update, and
all lines of one order are reserved in one transaction, so stock never goes below zero and an
order is reserved whole or not at all. A product sold in variants keeps its units in the
variants; its own stock/price/reserved/sold are derived from them in the same transaction.
The handlers of one consumer transaction move units on products read once for all of them and
write them once after them (stock_work.py).
"""

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo import ReturnDocument

from beli_contracts.catalog import StockLow
from beli_contracts.values import OrderItem
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from catalog import text, units
from catalog.documents import ProductDocument, ReservationDocument, ReservationLine, SellerDocument
from catalog.domain import (
    CATEGORIES,
    HoldLimits,
    ReservationPlan,
    StockedProduct,
    derived_totals,
    low_stock_transition,
    over_hold_limits,
    plan_reservation,
)
from catalog.outlets.stock import OutletStock, at_outlet
from catalog.stock_work import StockWork, StockWorks, Wanted

CommitOutcome = Literal["committed", "recommitted", "lapsed", "nothing"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Reservation:
    plan: ReservationPlan
    # The one deadline of the order: set here once, carried by the events to orders (pay_before)
    # and payments (Snap expiry strictly inside it).
    expires_at: datetime
    low_stock: list[StockLow] = field(default_factory=list)


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.sellers = db["sellers"]
        self.products = db["products"]
        self.reservations = db["reservations"]
        self.outlet_stock = OutletStock(db)
        self.outlets = db["outlets"]
        self.works = StockWorks(db)

    async def ensure_indexes(self) -> None:
        # Every shopper query starts with `visible: true`; see search.py for which query uses which.
        await ensure_index(self.products, [("visible", 1), ("search_terms", 1), ("created_at", -1), ("_id", -1)])
        await ensure_index(self.products, [("visible", 1), ("regency", 1), ("category", 1), ("created_at", -1), ("_id", -1)])
        await ensure_index(self.products, [("visible", 1), ("category", 1), ("price", 1), ("_id", 1)])
        await ensure_index(self.products, [("visible", 1), ("created_at", -1), ("_id", -1)])
        await ensure_index(self.products, [("visible", 1), ("price", 1), ("_id", 1)])
        await ensure_index(self.products, [("seller_id", 1), ("created_at", -1)])
        await ensure_index(self.reservations, [("status", 1), ("expires_at", 1)])
        await ensure_index(self.reservations, [("holder", 1), ("status", 1)])
        await ensure_index(self.sellers, "email")
        await ensure_index(self.sellers, "account_id", unique=True, sparse=True)  # one seller profile per account
        await ensure_index(self.sellers, [("status", 1), ("created_at", 1)])
        await self.outlet_stock.ensure_indexes()

    # --- sellers ----------------------------------------------------------------------------

    async def add_seller(self, fields: dict[str, Any]) -> SellerDocument:
        # Every seller starts pending: nothing of theirs is shown or sold until an admin verifies.
        seller = SellerDocument.model_validate(
            {"_id": new_id("slr"), **fields, "status": "pending", "created_at": utcnow(), "verified_at": None}
        )
        await self.sellers.insert_one(seller.to_document())
        return seller

    async def seller(self, seller_id: str, session: Session | None = None) -> SellerDocument | None:
        return SellerDocument.maybe(await self.sellers.find_one({"_id": seller_id}, session=session))

    async def sellers_by_status(self, status: str, limit: int) -> list[SellerDocument]:
        found = await self.sellers.find({"status": status}).sort("created_at", 1).limit(limit).to_list()
        return [SellerDocument.from_document(doc) for doc in found]

    async def update_seller(self, session: Session, seller_id: str, changes: dict[str, Any]) -> SellerDocument | None:
        seller = SellerDocument.maybe(
            await self.sellers.find_one_and_update(
                {"_id": seller_id}, {"$set": changes}, session=session, return_document=ReturnDocument.AFTER
            )
        )
        if seller is not None:
            # Products carry a copy of the seller's contact and OVOP flag (search filters on it
            # and reservations price with it): keep the copies in step in the same transaction.
            await self.products.update_many({"seller_id": seller_id}, {"$set": {"seller": seller.contact().model_dump()}}, session=session)
            await self.products.update_many(
                {"seller_id": seller_id, "ovop_village": None}, {"$set": {"ovop": seller.ovop}}, session=session
            )
        return seller

    async def verify_seller(self, session: Session, seller_id: str) -> SellerDocument | None:
        seller = await self.sellers.find_one_and_update(
            {"_id": seller_id, "status": "pending"},
            {"$set": {"status": "verified", "verified_at": utcnow()}},
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if seller is None:
            return await self.seller(seller_id, session)  # already verified (or unknown): nothing to do
        await self.products.update_many({"seller_id": seller_id}, {"$set": {"seller_status": "verified"}}, session=session)
        await self.products.update_many({"seller_id": seller_id, "active": True}, {"$set": {"visible": True}}, session=session)
        return SellerDocument.from_document(seller)

    # --- products ---------------------------------------------------------------------------

    async def insert_product(self, session: Session, product: ProductDocument) -> None:
        await self.products.insert_one(product.to_document(), session=session)

    async def product(self, product_id: str, session: Session | None = None) -> ProductDocument | None:
        return ProductDocument.maybe(await self.products.find_one({"_id": product_id}, session=session))

    async def visible_product(self, product_id: str) -> ProductDocument | None:
        return ProductDocument.maybe(await self.products.find_one({"_id": product_id, "visible": True}))

    async def seller_products(self, seller_id: str, limit: int) -> list[ProductDocument]:
        found = await self.products.find({"seller_id": seller_id}).sort("created_at", -1).limit(limit).to_list()
        return [ProductDocument.from_document(doc) for doc in found]

    async def save_product(self, session: Session, product: ProductDocument) -> None:
        """Write back a product changed in memory within this transaction, with its derived
        fields (totals, visibility, search terms) recomputed."""
        refresh_derived(product)
        product.updated_at = utcnow()
        await self.products.replace_one({"_id": product.id}, product.to_document(), session=session)

    # --- reservations -----------------------------------------------------------------------

    def batch(self, session: Session, wanted: Wanted) -> AbstractAsyncContextManager[None]:
        """Around the handlers of one consumer transaction: the products and holds they move, read
        once before them and written once after them (stock_work.py)."""
        return self.works.around(session, wanted)

    async def reserve(
        self,
        session: Session,
        order_id: str,
        items: list[OrderItem],
        ttl: timedelta,
        holder: str,
        limits: HoldLimits,
        outlet_id: str | None = None,
    ) -> Reservation | None:
        """Reserve every line or none, within the holder's limits on unpaid units: online stock, or
        with `outlet_id` the outlet's shelf (the buyer stands at the till: no hold limits). None
        when this order was already handled."""
        wanted = Wanted(reserving=[item.product_id for item in items], holders=[] if outlet_id else [holder])
        async with self.works.of(session, wanted) as work:
            refused = []
            if not outlet_id:
                work.touch(holder)
                refused = over_hold_limits(items, await work.held_by(session, holder), limits)
            if refused:
                plan = ReservationPlan("rejected", [], refused)
            else:
                plan = plan_reservation(items, await self._stocked(session, work, items, outlet_id))
            result, reservation = new_reservation(order_id, plan, ttl, holder, outlet_id)
            collected = work.defers(order_id)
            if collected is not None:
                collected.insert(reservation)  # must insert, or the transaction aborts (stock_work.py)
            else:
                await work.written_for(session, order_id)
                # Written first and only if new: a second order_placed of the order changes nothing.
                written = await self.reservations.update_one(
                    {"_id": order_id}, {"$setOnInsert": reservation.to_document() | {"_id": order_id}}, upsert=True, session=session
                )
                if written.upserted_id is None:
                    if not outlet_id:
                        work.untouch(holder)
                    return None
            await self._take(session, work, reservation, result)
            return result

    async def _take(self, session: Session, work: StockWork, reservation: ReservationDocument, result: Reservation) -> None:
        """The reserved lines' units leave the available stock (none when rejected)."""
        outlet_id, now = reservation.outlet_id, reservation.created_at or utcnow()
        for line in reservation.lines:
            if not outlet_id:
                move = work.move(line.product_id, line.variant_id, line.quantity, "stock", "reserved", now)
                if move.alert:
                    result.low_stock.append(units.stock_low(move.after, line.variant_id))  # online stock only
            elif not await self.outlet_stock.move(
                session, outlet_id, line.product_id, line.variant_id, line.quantity, take="stock", give="reserved"
            ):
                # Our snapshot said there was stock; a concurrent writer won. Retry whole.
                raise RuntimeError(f"stock of {line.product_id}/{line.variant_id} changed during reservation")
        if reservation.status == "held" and reservation.holder:
            work.hold(reservation.holder, reservation.id, reservation.lines)

    async def _stocked(self, session: Session, work: StockWork, items: list[OrderItem], outlet_id: str | None) -> dict[str, StockedProduct]:
        """What the plan needs of the products as this transaction has them: online, or on the outlet's shelf."""
        ids = list({item.product_id for item in items})
        found = [product for product in (await work.products(session, ids)).values() if product is not None]
        products = {product.id: units.stocked(product) for product in found}
        if outlet_id is None:
            return products
        outlet = await self.outlets.find_one({"_id": outlet_id}, {"active": 1}, session=session)
        levels = await self.outlet_stock.at(session, outlet_id, ids)
        # A closed outlet sells nothing; on its shelf a product sells while its seller keeps it active.
        open_ = bool(outlet and outlet.get("active"))
        shelf = {product.id: replace(products[product.id], on_sale=open_ and product.active) for product in found}
        return {product_id: at_outlet(product, levels) for product_id, product in shelf.items()}

    async def commit(
        self, session: Session, order_id: str, paid: Sequence[units.UnitsLine] = (), outlet_id: str | None = None
    ) -> CommitOutcome:
        """Held units become sold. A paid order whose hold was already released (its payment was
        processed after the deadline) takes the units again if they are still on sale, or its
        reservation lapses: the caller must then say so, so that the money is returned."""
        async with self.works.of(session, Wanted()) as work:
            settled = {"$set": {"status": "committed", "settled_at": utcnow()}}
            # The paid lines are the held ones when their digests agree: then one update settles the
            # reservation, no read of its lines first (reservations stored before the digest existed,
            # or lines that differ, take the way below).
            lines = units.merged_lines(paid)
            held_as_paid = {"_id": order_id, "status": "held", "outlet_id": outlet_id, "lines_digest": units.lines_digest(lines)}
            collected = work.defers(order_id) if paid else None
            if collected is not None:
                collected.update(held_as_paid, settled)  # must match, or the transaction aborts (stock_work.py)
                await self._sell_held(session, work, order_id, outlet_id, lines)
                return "committed"
            await work.written_for(session, order_id)
            if paid and (await self.reservations.update_one(held_as_paid, settled, session=session)).matched_count:
                await self._sell_held(session, work, order_id, outlet_id, lines)
                return "committed"
            held = ReservationDocument.maybe(
                await self.reservations.find_one_and_update({"_id": order_id, "status": "held"}, settled, session=session)
            )
            if held is not None:
                await self._sell_held(session, work, order_id, held.outlet_id, held.lines)
                return "committed"
            return await self._recommit(session, work, order_id)

    async def _sell_held(
        self, session: Session, work: StockWork, order_id: str, outlet_id: str | None, lines: Sequence[ReservationLine]
    ) -> None:
        work.unhold(order_id)
        now = utcnow()
        for line in lines:
            if outlet_id:
                await self.outlet_stock.move(
                    session, outlet_id, line.product_id, line.variant_id, line.quantity, take="reserved", give="sold"
                )
            else:
                work.sell_held(line.product_id, line.variant_id, line.quantity, now)

    async def _recommit(self, session: Session, work: StockWork, order_id: str) -> CommitOutcome:
        """A paid order whose hold was released takes its units again, or its reservation lapses."""
        reservation = ReservationDocument.maybe(await self.reservations.find_one({"_id": order_id, "status": "released"}, session=session))
        if reservation is None:
            return "nothing"  # already committed or lapsed (a redelivery), or never reserved
        outlet_id, lines, now = reservation.outlet_id, reservation.lines, utcnow()
        if outlet_id:
            available = await self.outlet_stock.all_available(session, outlet_id, lines)
        else:
            await work.products(session, [line.product_id for line in lines])
            available = all(work.has(line.product_id, line.variant_id, line.quantity, "stock") for line in lines)
        if not available:
            await self.reservations.update_one({"_id": order_id}, {"$set": {"status": "lapsed", "settled_at": now}}, session=session)
            return "lapsed"
        for line in lines:
            if not outlet_id:
                work.move(line.product_id, line.variant_id, line.quantity, "stock", "sold", now)  # the alert state recorded
            elif not await self.outlet_stock.move(
                session, outlet_id, line.product_id, line.variant_id, line.quantity, take="stock", give="sold"
            ):
                raise RuntimeError(f"stock of {line.product_id} changed while re-reserving {order_id}")  # retried whole
        await self.reservations.update_one(
            {"_id": order_id}, {"$set": {"status": "committed", "recommitted": True, "settled_at": now}}, session=session
        )
        return "recommitted"

    async def release(self, session: Session, order_id: str, reason: str) -> bool:
        """Held units go back on sale. False when there is nothing held for the order."""
        async with self.works.of(session, Wanted()) as work:
            await work.written_for(session, order_id)
            reservation = ReservationDocument.maybe(
                await self.reservations.find_one_and_update(
                    {"_id": order_id, "status": "held"},
                    {"$set": {"status": "released", "release_reason": reason, "settled_at": utcnow()}},
                    session=session,
                )
            )
            if reservation is None:
                return False
            work.unhold(order_id)
            outlet_id, now = reservation.outlet_id, utcnow()
            if not outlet_id:
                await work.products(session, [line.product_id for line in reservation.lines])
            for line in reservation.lines:
                if outlet_id:
                    await self.outlet_stock.move(
                        session, outlet_id, line.product_id, line.variant_id, line.quantity, take="reserved", give="stock"
                    )
                elif work.has(line.product_id, line.variant_id, line.quantity, "reserved"):  # else left as it is, as ever
                    work.move(line.product_id, line.variant_id, line.quantity, "reserved", "stock", now)  # re-arms the alert
            return True

    async def expired_reservations(self, now: datetime, limit: int = 100) -> list[str]:
        rows = await self.reservations.find({"status": "held", "expires_at": {"$lt": now}}, {"_id": 1}).limit(limit).to_list()
        return [row["_id"] for row in rows]

    async def check_low_stock(self, session: Session, product: ProductDocument, variant_id: str | None) -> StockLow | None:
        """Apply the once-per-crossing rule to the product (or variant) as it is now; record the
        alert state and return the event to publish, if any."""
        threshold = product.low_stock_threshold
        if variant_id is None:
            emit, alerted = low_stock_transition(product.stock, threshold, product.low_stock_alerted)
            if alerted != product.low_stock_alerted:
                await self.products.update_one({"_id": product.id}, {"$set": {"low_stock_alerted": alerted}}, session=session)
        else:
            variant = product.variant(variant_id)
            assert variant is not None  # the units of this variant were just moved
            emit, alerted = low_stock_transition(variant.stock, threshold, variant.low_stock_alerted)
            if alerted != variant.low_stock_alerted:
                await self.products.update_one(
                    {"_id": product.id},
                    {"$set": {"variants.$[v].low_stock_alerted": alerted}},
                    array_filters=[{"v.id": variant_id}],
                    session=session,
                )
        return units.stock_low(product, variant_id) if emit else None


def new_reservation(
    order_id: str, plan: ReservationPlan, ttl: timedelta, holder: str, outlet_id: str | None
) -> tuple[Reservation, ReservationDocument]:
    now = utcnow()
    # Millisecond precision: what every store keeps, so the same deadline compares equal everywhere.
    ends = now + ttl
    result = Reservation(plan, expires_at=ends.replace(microsecond=ends.microsecond // 1000 * 1000))
    lines = units.merged_lines(plan.lines)
    reservation = ReservationDocument(
        id=order_id,
        status="held" if plan.outcome == "reserved" else "rejected",
        holder=holder,
        outlet_id=outlet_id,
        lines=lines,
        lines_digest=units.lines_digest(lines),
        created_at=now,
        expires_at=result.expires_at,
    )
    return result, reservation


def refresh_derived(product: ProductDocument) -> None:
    """Recompute what follows from a product's own fields: totals of its variants, whether
    shoppers see it, and its search terms."""
    if product.variants:
        totals = derived_totals(product.variants, product.sold_before_variants)
        for name, value in totals.items():
            setattr(product, name, value)
    product.visible = bool(product.active and product.seller_status == "verified")
    labels = [CATEGORIES[product.category], product.category, product.regency, product.ovop_village or ""]
    product.name_terms, product.search_terms = text.product_terms(product.name, product.description, labels)
