"""Stock on an outlet's shelf: units a seller (or the operator) consigned to one NTT Mart outlet,
per (product, variant, outlet). They are never the online stock: an in-store sale reserves,
sells and releases these units with the same never-below-zero conditional updates, and an
online order never touches them."""

from collections.abc import Sequence
from dataclasses import replace

from pymongo import ReturnDocument

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from catalog.documents import ProductDocument, ReservationLine, ShelfLevel
from catalog.domain import StockedProduct

Levels = dict[tuple[str, str | None], int]


def level_id(outlet_id: str, product_id: str, variant_id: str | None) -> str:
    return f"{outlet_id}|{product_id}|{variant_id or '-'}"


def at_outlet(product: StockedProduct, levels: Levels) -> StockedProduct:
    """The product as the outlet's shelf has it: same prices and rules, the outlet's units.
    Outlet stock needs no online listing: a product on the shelf sells as long as it is active."""
    variants = {vid: replace(v, available=levels.get((product.id, vid), 0)) for vid, v in product.variants.items()}
    return replace(product, available=levels.get((product.id, None), 0), variants=variants)


class OutletStock:
    def __init__(self, db: Database) -> None:
        self.levels = db["outlet_stock"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.levels, [("outlet_id", 1), ("seller_id", 1), ("product_id", 1)])

    async def set(self, session: Session, outlet_id: str, product: ProductDocument, variant_id: str | None, stock: int) -> ShelfLevel:
        """Units on the shelf now (held and sold units untouched), as the seller counted them."""
        now = utcnow()
        level = await self.levels.find_one_and_update(
            {"_id": level_id(outlet_id, product.id, variant_id)},
            {
                "$set": {"stock": stock, "product_name": product.name, "seller_id": product.seller_id, "updated_at": now},
                "$setOnInsert": {"outlet_id": outlet_id, "product_id": product.id, "variant_id": variant_id, "reserved": 0, "sold": 0},
            },
            upsert=True,
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        assert level is not None  # an upsert that returns the document after always has one
        return ShelfLevel.from_document(level)

    async def at(self, session: Session, outlet_id: str, product_ids: list[str]) -> Levels:
        found = self.levels.find({"outlet_id": outlet_id, "product_id": {"$in": product_ids}}, session=session)
        return {(doc["product_id"], doc["variant_id"]): doc["stock"] async for doc in found}

    async def move(
        self, session: Session, outlet_id: str, product_id: str, variant_id: str | None, quantity: int, *, take: str, give: str
    ) -> bool:
        """Move units between stock/reserved/sold, never below zero. False: not enough to take.
        (An update by _id: nothing needs the level handed back after the write.)"""
        moved = await self.levels.update_one(
            {"_id": level_id(outlet_id, product_id, variant_id), take: {"$gte": quantity}},
            {"$inc": {take: -quantity, give: quantity}, "$set": {"updated_at": utcnow()}},
            session=session,
        )
        return moved.matched_count == 1

    async def all_available(self, session: Session, outlet_id: str, lines: Sequence[ReservationLine]) -> bool:
        for line in lines:
            level = await self.levels.find_one({"_id": level_id(outlet_id, line.product_id, line.variant_id)}, session=session)
            if level is None or level["stock"] < line.quantity:
                return False
        return True

    async def listing(self, outlet_id: str, seller_id: str | None = None, limit: int = 500) -> list[ShelfLevel]:
        query = {"outlet_id": outlet_id} | ({"seller_id": seller_id} if seller_id else {})
        found = await self.levels.find(query).sort([("seller_id", 1), ("product_id", 1)]).limit(limit).to_list()
        return [ShelfLevel.from_document(level) for level in found]
