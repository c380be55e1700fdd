"""Catalog persistence: sellers, products (with available/reserved/sold units) and reservations.

Stock is never decremented without the condition `stock >= quantity` in the same update, and
all lines of one order are reserved in one transaction, so stock never goes below zero and an
order is reserved whole or not at all.
"""

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from beli_contracts.values import OrderItem, SellerContact
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index

from catalog.domain import ReservationPlan, StockedProduct, plan_reservation


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.sellers = db["sellers"]
        self.products = db["products"]
        self.reservations = db["reservations"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.products, [("regency", 1), ("category", 1), ("created_at", -1)])
        await ensure_index(self.products, [("category", 1), ("created_at", -1)])
        await ensure_index(self.products, [("seller_id", 1)])
        await ensure_index(self.reservations, [("status", 1), ("expires_at", 1)])
        await ensure_index(self.sellers, "email")

    # --- sellers and products -------------------------------------------------------------

    async def add_seller(self, fields: dict[str, Any]) -> dict[str, Any]:
        seller = {"_id": new_id("slr"), **fields, "created_at": utcnow()}
        await self.sellers.insert_one(seller)
        return seller

    async def seller(self, seller_id: str) -> dict[str, Any] | None:
        return await self.sellers.find_one({"_id": seller_id})

    async def add_product(self, seller: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        product = {
            "_id": new_id("prd"),
            **fields,
            "seller_id": seller["_id"],
            "seller": _contact(seller),
            "regency": seller["regency"],
            "reserved": 0,
            "sold": 0,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        await self.products.insert_one(product)
        return product

    async def product(self, product_id: str) -> dict[str, Any] | None:
        return await self.products.find_one({"_id": product_id})

    async def search(self, *, regency: str | None, category: str | None, text: str | None,
                     limit: int, after: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"active": True}
        if regency:
            query["regency"] = regency
        if category:
            query["category"] = category
        if text:
            # SecantusDB has no text index; a case-insensitive match on the name works on both it
            # and MongoDB.
            pattern = re.compile(re.escape(text.strip()), re.IGNORECASE)
            query["$or"] = [{"name": pattern}, {"description": pattern}]
        if after:
            query["_id"] = {"$gt": after}
        return await self.products.find(query).sort("_id", 1).limit(limit).to_list()

    # --- reservations ---------------------------------------------------------------------

    async def reserve(self, session: Session, order_id: str, items: list[OrderItem], ttl: timedelta) -> ReservationPlan | None:
        """Reserve every line or none. None when this order was already handled."""
        if await self.reservations.find_one({"_id": order_id}, session=session):
            return None
        ids = list({item.product_id for item in items})
        found = await self.products.find({"_id": {"$in": ids}}, session=session).to_list()
        plan = plan_reservation(items, {doc["_id"]: _stocked(doc) for doc in found})
        now = utcnow()
        if plan.outcome == "reserved":
            for line in plan.lines:
                updated = await self.products.update_one(
                    {"_id": line.product_id, "stock": {"$gte": line.quantity}},
                    {"$inc": {"stock": -line.quantity, "reserved": line.quantity}, "$set": {"updated_at": now}},
                    session=session,
                )
                if updated.modified_count != 1:
                    # Our snapshot said there was stock; a concurrent writer won. Retry whole.
                    raise RuntimeError(f"stock of {line.product_id} changed during reservation")
        await self.reservations.insert_one(
            {
                "_id": order_id,
                "status": "held" if plan.outcome == "reserved" else "rejected",
                "lines": [{"product_id": line.product_id, "quantity": line.quantity} for line in plan.lines],
                "created_at": now,
                "expires_at": now + ttl,
            },
            session=session,
        )
        return plan

    async def commit(self, session: Session, order_id: str) -> bool:
        """Held units become sold. False when there is nothing held for the order."""
        reservation = await self.reservations.find_one_and_update(
            {"_id": order_id, "status": "held"}, {"$set": {"status": "committed", "settled_at": utcnow()}}, session=session
        )
        if reservation is None:
            return False
        for line in reservation["lines"]:
            await self.products.update_one(
                {"_id": line["product_id"]}, {"$inc": {"reserved": -line["quantity"], "sold": line["quantity"]}}, session=session
            )
        return True

    async def release(self, session: Session, order_id: str, reason: str) -> bool:
        """Held units go back on sale. False when there is nothing held for the order."""
        reservation = await self.reservations.find_one_and_update(
            {"_id": order_id, "status": "held"},
            {"$set": {"status": "released", "release_reason": reason, "settled_at": utcnow()}},
            session=session,
        )
        if reservation is None:
            return False
        for line in reservation["lines"]:
            await self.products.update_one(
                {"_id": line["product_id"]}, {"$inc": {"reserved": -line["quantity"], "stock": line["quantity"]}}, session=session
            )
        return True

    async def expired_reservations(self, now: datetime, limit: int = 100) -> list[str]:
        rows = await self.reservations.find({"status": "held", "expires_at": {"$lt": now}}, {"_id": 1}).limit(limit).to_list()
        return [row["_id"] for row in rows]


def _contact(seller: dict[str, Any]) -> dict[str, str]:
    return {"seller_id": seller["_id"], "name": seller["name"], "email": seller["email"],
            "phone": seller["phone"], "regency": seller["regency"]}


def _stocked(doc: dict[str, Any]) -> StockedProduct:
    return StockedProduct(id=doc["_id"], name=doc["name"], category=doc["category"], price=doc["price"],
                          available=doc["stock"], on_sale=doc.get("active", True),
                          seller=SellerContact(**doc["seller"]))

