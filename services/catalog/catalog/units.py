"""The hot path's stock moves, each an update by `_id` (stock_work.py collects a transaction's
into one bulk write).

A move starts from the product as the transaction has it: read once before its handlers ran, then
moved by the handlers before (stock_work.py). The units, the totals of a product sold in variants
and the low-stock alert state after the move are computed here and written by the same update, so
no read follows the write. That is safe because a transaction writes against its snapshot: a
product changed by someone else since the read makes the write a write conflict, and the whole
transaction runs again on fresh data. The update keeps its `take >= quantity` condition anyway, so
a unit is never sold twice whatever happened before.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from beli_contracts.catalog import StockLow
from catalog.documents import ProductDocument, ReservationLine
from catalog.domain import StockedProduct, StockedVariant, derived_totals, low_stock_transition


class UnitsLine(Protocol):
    """A reservation's line, or a paid order's."""

    @property
    def product_id(self) -> str: ...
    @property
    def variant_id(self) -> str | None: ...
    @property
    def quantity(self) -> int: ...


Pool = Literal["stock", "reserved", "sold"]  # available, held for unpaid orders, sold


@dataclass(frozen=True)
class Move:
    filter: dict[str, Any]
    update: dict[str, Any]
    array_filters: list[Mapping[str, Any]] | None
    after: ProductDocument
    alert: bool  # the move took the units below the threshold: publish StockLow


def can_take(product: ProductDocument | None, variant_id: str | None, quantity: int, take: Pool) -> bool:
    """Whether the product (or its variant), as this transaction has it, has the units to move."""
    unit = (product.variant(variant_id) if variant_id else product) if product is not None else None
    return unit is not None and getattr(unit, take) >= quantity


def move(product: ProductDocument, variant_id: str | None, quantity: int, take: Pool, give: Pool, now: datetime) -> Move:
    """Units go from `take` to `give`, from the product as this transaction has it (read, then
    moved by the handlers before): the product after, and the update that writes the same. A move
    of available units applies the once-per-crossing alert rule and records its state; a product
    sold in variants gets its totals. The update keeps `take >= quantity` in its filter."""
    stock_moves = "stock" in (take, give)
    changed = {take: -quantity, give: quantity}
    if variant_id is None:
        after = product.model_copy(update={pool: getattr(product, pool) + by for pool, by in changed.items()})
        alert, sets = False, {}
        if stock_moves:
            alert, alerted = low_stock_transition(after.stock, after.low_stock_threshold, product.low_stock_alerted)
            after, sets = after.model_copy(update={"low_stock_alerted": alerted}), {"low_stock_alerted": alerted}
        return Move(
            {"_id": product.id, take: {"$gte": quantity}}, {"$inc": changed, "$set": sets | {"updated_at": now}}, None, after, alert
        )
    variants = []
    alert, sets = False, {}
    for variant in product.variants:
        if variant.id == variant_id:
            variant = variant.model_copy(update={pool: getattr(variant, pool) + by for pool, by in changed.items()})
            if stock_moves:
                alert, alerted = low_stock_transition(variant.stock, product.low_stock_threshold, variant.low_stock_alerted)
                variant, sets = variant.model_copy(update={"low_stock_alerted": alerted}), {"variants.$[v].low_stock_alerted": alerted}
        variants.append(variant)
    totals = derived_totals(variants, product.sold_before_variants)
    return Move(
        {"_id": product.id, "variants": {"$elemMatch": {"id": variant_id, take: {"$gte": quantity}}}},
        {"$inc": {f"variants.$[v].{pool}": by for pool, by in changed.items()}, "$set": totals | sets | {"updated_at": now}},
        [{"v.id": variant_id}],
        product.model_copy(update=totals | {"variants": variants}),
        alert,
    )


def sell_held(product_id: str, variant_id: str | None, quantity: int, now: datetime) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(filter, update, array_filters): reserved units become sold, without reading the product.
    Available units do not change, so neither does the alert state; a variant's reserved and sold
    move its product's totals by the same amounts (they count every variant)."""
    if variant_id is None:
        return (
            {"_id": product_id, "reserved": {"$gte": quantity}},
            {"$inc": {"reserved": -quantity, "sold": quantity}, "$set": {"updated_at": now}},
            None,
        )
    return (
        {"_id": product_id, "variants": {"$elemMatch": {"id": variant_id, "reserved": {"$gte": quantity}}}},
        {
            "$inc": {"variants.$[v].reserved": -quantity, "variants.$[v].sold": quantity, "reserved": -quantity, "sold": quantity},
            "$set": {"updated_at": now},
        },
        [{"v.id": variant_id}],
    )


def merged_lines(lines: Iterable[UnitsLine]) -> list[ReservationLine]:
    """One line per product and variant, in the order they first appear."""
    merged: dict[tuple[str, str | None], int] = {}
    for line in lines:
        key = (line.product_id, line.variant_id)
        merged[key] = merged.get(key, 0) + line.quantity
    return [ReservationLine(product_id=product, variant_id=variant, quantity=quantity) for (product, variant), quantity in merged.items()]


def lines_digest(lines: list[ReservationLine]) -> str:
    """The same for the same units of the same products and variants (merged lines), in any order:
    a reservation keeps it, so that a paid order's own lines are checked against the held ones
    in the update's filter instead of the reservation being read first."""
    canonical = ";".join(sorted(f"{line.product_id}|{line.variant_id or ''}|{line.quantity}" for line in lines))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def stocked(product: ProductDocument) -> StockedProduct:
    variants = {v.id: StockedVariant(id=v.id, name=v.name, price=v.price, available=v.stock, active=v.active) for v in product.variants}
    return StockedProduct(
        id=product.id,
        name=product.name,
        category=product.category,
        price=product.price,
        available=product.stock,
        on_sale=product.visible,
        seller=product.seller,
        variants=variants,
        ovop_village=product.ovop_village,
    )


def stock_low(product: ProductDocument, variant_id: str | None) -> StockLow:
    """The alert for the product's (or variant's) units as they are now."""
    variant = product.variant(variant_id) if variant_id else None
    return StockLow(
        product_id=product.id,
        product_name=product.name,
        variant_id=variant_id,
        seller=product.seller,
        stock=variant.stock if variant else product.stock,
        threshold=product.low_stock_threshold or 0,
    )
