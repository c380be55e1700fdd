"""Catalog persistence: sellers, products (with available/reserved/sold units, per product or
per variant) and reservations.

Stock is never decremented without the condition `stock >= quantity` in the same update, and
all lines of one order are reserved in one transaction, so stock never goes below zero and an
order is reserved whole or not at all. A product sold in variants keeps its units in the
variants; its own stock/price/reserved/sold are derived from them in the same transaction.
"""

import uuid
from collections.abc import Sequence
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
        refused = [] if outlet_id else over_hold_limits(items, await self._held_by(session, holder), limits)
        products: dict[str, ProductDocument] = {}
        if refused:
            plan = ReservationPlan("rejected", [], refused)
        else:
            products, shelf = await self._stocked(session, items, outlet_id)
            plan = plan_reservation(items, shelf)
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
        # Written first and only if new: a second order_placed of the order changes nothing.
        written = await self.reservations.update_one(
            {"_id": order_id}, {"$setOnInsert": reservation.to_document() | {"_id": order_id}}, upsert=True, session=session
        )
        if written.upserted_id is None:
            return None
        for line in lines:  # none when rejected
            if outlet_id:
                moved = await self.outlet_stock.move(
                    session, outlet_id, line.product_id, line.variant_id, line.quantity, take="stock", give="reserved"
                )
            else:
                move = units.reserve(products[line.product_id], line.variant_id, line.quantity, now)
                moved = await self._update_product(session, move)
                products[line.product_id] = move.after  # a second variant of it moves from there
                if move.alert:
                    result.low_stock.append(units.stock_low(move.after, line.variant_id))  # online stock only
            if not moved:
                # Our snapshot said there was stock; a concurrent writer won. Retry whole.
                raise RuntimeError(f"stock of {line.product_id}/{line.variant_id} changed during reservation")
        return result

    async def _update_product(self, session: Session, move: units.Move) -> bool:
        done = await self.products.update_one(move.filter, move.update, array_filters=move.array_filters, session=session)
        return done.matched_count == 1

    async def _stocked(
        self, session: Session, items: list[OrderItem], outlet_id: str | None
    ) -> tuple[dict[str, ProductDocument], dict[str, StockedProduct]]:
        """The products as read (by id), and what the plan needs of them: online, or on the outlet's shelf."""
        ids = list({item.product_id for item in items})
        found = {
            doc["_id"]: ProductDocument.from_document(doc)
            for doc in await self.products.find({"_id": {"$in": ids}}, session=session).to_list()
        }
        products = {product.id: units.stocked(product) for product in found.values()}
        if outlet_id is None:
            return found, products
        outlet = await self.outlets.find_one({"_id": outlet_id}, {"active": 1}, session=session)
        levels = await self.outlet_stock.at(session, outlet_id, ids)
        # A closed outlet sells nothing; on its shelf a product sells while its seller keeps it active.
        open_ = bool(outlet and outlet.get("active"))
        shelf = {product.id: replace(products[product.id], on_sale=open_ and product.active) for product in found.values()}
        return found, {product_id: at_outlet(product, levels) for product_id, product in shelf.items()}

    async def _move_line(
        self, session: Session, outlet_id: str | None, product_id: str, variant_id: str | None, quantity: int, take: str, give: str
    ) -> ProductDocument | bool:
        """Units of the outlet's shelf for an outlet's reservation (True when moved), the online
        stock otherwise (the product after). False: not enough units to take."""
        if outlet_id:
            return await self.outlet_stock.move(session, outlet_id, product_id, variant_id, quantity, take=take, give=give)
        return await self._move_units(session, product_id, variant_id, quantity, take=take, give=give) or False

    async def _held_by(self, session: Session, holder: str) -> dict[str, int]:
        """Units per product the holder keeps in unpaid orders. Touching the holder's row first makes
        two reservations of one shopper conflict (one retries), so both cannot pass the limit."""
        await self.db["holders"].update_one({"_id": holder}, {"$inc": {"reservations": 1}}, upsert=True, session=session)
        held: dict[str, int] = {}
        async for reservation in self.reservations.find({"holder": holder, "status": "held"}, {"lines": 1}, session=session):
            for line in reservation["lines"]:
                held[line["product_id"]] = held.get(line["product_id"], 0) + line["quantity"]
        return held

    async def commit(
        self, session: Session, order_id: str, paid: Sequence[units.UnitsLine] = (), outlet_id: str | None = None
    ) -> CommitOutcome:
        """Held units become sold. A paid order whose hold was already released (its payment was
        processed after the deadline) takes the units again if they are still on sale, or its
        reservation lapses: the caller must then say so, so that the money is returned."""
        settled = {"$set": {"status": "committed", "settled_at": utcnow()}}
        if paid:
            # The paid lines are the held ones when their digests agree: then one update settles
            # the reservation, no read of its lines first (reservations stored before the digest
            # existed, or lines that differ, take the way below).
            lines = units.merged_lines(paid)
            held_as_paid = {"_id": order_id, "status": "held", "outlet_id": outlet_id, "lines_digest": units.lines_digest(lines)}
            if (await self.reservations.update_one(held_as_paid, settled, session=session)).matched_count:
                await self._sell_held(session, outlet_id, lines)
                return "committed"
        held = ReservationDocument.maybe(
            await self.reservations.find_one_and_update({"_id": order_id, "status": "held"}, settled, session=session)
        )
        if held is not None:
            await self._sell_held(session, held.outlet_id, held.lines)
            return "committed"
        reservation = ReservationDocument.maybe(await self.reservations.find_one({"_id": order_id, "status": "released"}, session=session))
        if reservation is None:
            return "nothing"  # already committed or lapsed (a redelivery), or never reserved
        outlet_id = reservation.outlet_id
        available = (
            await self.outlet_stock.all_available(session, outlet_id, reservation.lines)
            if outlet_id
            else await self._all_available(session, reservation.lines)
        )
        if not available:
            await self.reservations.update_one({"_id": order_id}, {"$set": {"status": "lapsed", "settled_at": utcnow()}}, session=session)
            return "lapsed"
        for line in reservation.lines:
            moved = await self._move_line(session, outlet_id, line.product_id, line.variant_id, line.quantity, "stock", "sold")
            if not moved:
                raise RuntimeError(f"stock of {line.product_id} changed while re-reserving {order_id}")  # retried whole
            if isinstance(moved, ProductDocument):
                await self.check_low_stock(session, moved, line.variant_id)
        await self.reservations.update_one(
            {"_id": order_id}, {"$set": {"status": "committed", "recommitted": True, "settled_at": utcnow()}}, session=session
        )
        return "recommitted"

    async def _sell_held(self, session: Session, outlet_id: str | None, lines: Sequence[ReservationLine]) -> None:
        now = utcnow()
        for line in lines:
            if outlet_id:
                await self.outlet_stock.move(
                    session, outlet_id, line.product_id, line.variant_id, line.quantity, take="reserved", give="sold"
                )
            else:
                where, change, array_filters = units.sell_held(line.product_id, line.variant_id, line.quantity, now)
                await self.products.update_one(where, change, array_filters=array_filters, session=session)

    async def _all_available(self, session: Session, lines: list[ReservationLine]) -> bool:
        for line in lines:
            product = await self.product(line.product_id, session)
            if product is None:
                return False
            unit = product.variant(line.variant_id) if line.variant_id else product
            if unit is None or unit.stock < line.quantity:
                return False
        return True

    async def release(self, session: Session, order_id: str, reason: str) -> bool:
        """Held units go back on sale. False when there is nothing held for the order."""
        reservation = ReservationDocument.maybe(
            await self.reservations.find_one_and_update(
                {"_id": order_id, "status": "held"},
                {"$set": {"status": "released", "release_reason": reason, "settled_at": utcnow()}},
                session=session,
            )
        )
        if reservation is None:
            return False
        for line in reservation.lines:
            moved = await self._move_line(
                session, reservation.outlet_id, line.product_id, line.variant_id, line.quantity, "reserved", "stock"
            )
            if isinstance(moved, ProductDocument):
                await self.check_low_stock(session, moved, line.variant_id)  # re-arms the alert
        return True

    async def expired_reservations(self, now: datetime, limit: int = 100) -> list[str]:
        rows = await self.reservations.find({"status": "held", "expires_at": {"$lt": now}}, {"_id": 1}).limit(limit).to_list()
        return [row["_id"] for row in rows]

    async def _move_units(
        self, session: Session, product_id: str, variant_id: str | None, quantity: int, *, take: str, give: str
    ) -> ProductDocument | None:
        """Move units between stock/reserved/sold, never below zero. The product after, or None."""
        now = utcnow()
        if variant_id is None:
            return ProductDocument.maybe(
                await self.products.find_one_and_update(
                    {"_id": product_id, take: {"$gte": quantity}},
                    {"$inc": {take: -quantity, give: quantity}, "$set": {"updated_at": now}},
                    session=session,
                    return_document=ReturnDocument.AFTER,
                )
            )
        product = await self.products.find_one_and_update(
            {"_id": product_id, "variants": {"$elemMatch": {"id": variant_id, take: {"$gte": quantity}}}},
            {"$inc": {f"variants.$[v].{take}": -quantity, f"variants.$[v].{give}": quantity}, "$set": {"updated_at": now}},
            array_filters=[{"v.id": variant_id}],
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if product is None:
            return None
        moved = ProductDocument.from_document(product)
        totals = derived_totals(moved.variants, moved.sold_before_variants)
        await self.products.update_one({"_id": product_id}, {"$set": totals}, session=session)
        return moved.model_copy(update=totals)

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
