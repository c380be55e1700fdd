"""Catalog rules: where sellers may be, what may be sold, whether an order can be reserved, how
variants behave and when stock counts as low.

Pure functions and value objects; no I/O.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from beli_contracts.catalog import RejectedLine
from beli_contracts.reference import CATEGORIES, REGENCIES
from beli_contracts.values import OrderItem, PricedLine, SellerContact
from beli_runtime.errors import Refused

__all__ = ["CATEGORIES", "REGENCIES"]  # re-exported: catalog code imports them from here

MAX_PRICE = 1_000_000_000  # Rp1 miliar per unit: anything above is a typing error
MAX_STOCK = 1_000_000
MAX_WEIGHT_GRAMS = 100_000  # 100 kg: couriers' parcel limit; heavier goods are not parcels
MAX_VARIANTS = 50

SellerStatus = Literal["pending", "verified"]


@dataclass(frozen=True)
class StockedVariant:
    id: str
    name: str
    price: int
    available: int
    active: bool


@dataclass(frozen=True)
class StockedProduct:
    """What reservation needs to know of a product."""

    id: str
    name: str
    category: str
    price: int
    available: int
    on_sale: bool
    seller: SellerContact
    variants: dict[str, StockedVariant] = field(default_factory=dict)
    ovop_village: str | None = None


@dataclass(frozen=True)
class ReservationPlan:
    outcome: Literal["reserved", "rejected"]
    lines: list[PricedLine]
    rejected: list[RejectedLine]


LineKey = tuple[str, str | None]  # (product_id, variant_id)


def plan_reservation(items: list[OrderItem], products: dict[str, StockedProduct]) -> ReservationPlan:
    """All lines or none: a single line that cannot be served rejects the whole order.

    A product sold in variants must be ordered by variant (its units live in the variants); a
    product without variants must be ordered without one.
    """
    rejected: list[RejectedLine] = []
    lines: list[PricedLine] = []
    for (product_id, variant_id), quantity in merge_quantities(items).items():
        product = products.get(product_id)
        refuse = _refuser(rejected, product_id, variant_id, quantity)
        if product is None:
            refuse("not_found")
        elif not product.on_sale:
            refuse("not_for_sale")
        elif variant_id is None and product.variants:
            refuse("not_for_sale")  # which size or colour? the order must say
        elif variant_id is None:
            if product.available < quantity:
                refuse("insufficient_stock", product.available)
            else:
                lines.append(
                    PricedLine(
                        product_id=product.id,
                        product_name=product.name,
                        category=product.category,
                        seller=product.seller,
                        quantity=quantity,
                        unit_price=product.price,
                        ovop_village=product.ovop_village,
                    )
                )
        else:
            variant = product.variants.get(variant_id)
            if variant is None:
                refuse("not_found")
            elif not variant.active:
                refuse("not_for_sale")
            elif variant.available < quantity:
                refuse("insufficient_stock", variant.available)
            else:
                lines.append(
                    PricedLine(
                        product_id=product.id,
                        variant_id=variant.id,
                        product_name=variant_line_name(product.name, variant.name),
                        category=product.category,
                        seller=product.seller,
                        quantity=quantity,
                        unit_price=variant.price,
                        ovop_village=product.ovop_village,
                    )
                )
    if rejected:
        return ReservationPlan("rejected", [], rejected)
    return ReservationPlan("reserved", lines, [])


Reason = Literal["not_found", "insufficient_stock", "not_for_sale"]


def _refuser(rejected: list[RejectedLine], product_id: str, variant_id: str | None, quantity: int) -> Callable[..., None]:
    def refuse(reason: Reason, available: int = 0) -> None:
        rejected.append(RejectedLine(product_id=product_id, variant_id=variant_id, requested=quantity, available=available, reason=reason))

    return refuse


@dataclass(frozen=True)
class HoldLimits:
    """How many units one shopper may hold in unpaid orders (OWASP API6: one shopper must not
    take a product off the market by reserving it and never paying)."""

    per_product: int
    per_shopper: int


def over_hold_limits(items: list[OrderItem], held: dict[str, int], limits: HoldLimits) -> list[RejectedLine]:
    """The lines refused because the shopper already holds too many unpaid units. `held` is
    units per product in the shopper's other unpaid orders (variants count for their product)."""
    wanted: dict[str, int] = {}
    for (product_id, _), quantity in merge_quantities(items).items():
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    total_room = limits.per_shopper - sum(held.values())
    rejected = []
    over_total = sum(wanted.values()) > total_room
    for (product_id, variant_id), quantity in merge_quantities(items).items():
        room = max(0, min(limits.per_product - held.get(product_id, 0), total_room))
        if over_total or wanted[product_id] > room:
            rejected.append(
                RejectedLine(product_id=product_id, variant_id=variant_id, requested=quantity, available=room, reason="hold_limit")
            )
    return rejected


def merge_quantities(items: list[OrderItem]) -> dict[LineKey, int]:
    """The same product (and variant) twice in one order is one line of the summed quantity."""
    merged: dict[LineKey, int] = {}
    for item in items:
        key = (item.product_id, item.variant_id)
        merged[key] = merged.get(key, 0) + item.quantity
    return merged


def variant_line_name(product_name: str, variant_name: str) -> str:
    """What the shopper's receipt and the seller's order show for a variant line."""
    return f"{product_name} ({variant_name})"


# --- variants ---------------------------------------------------------------------------------


def check_variant_names(existing: list[str], new: list[str]) -> None:
    """Variant names are unique per product (ignoring case and spaces) and bounded in number,
    so that a shopper never has to choose between two identical-looking options."""
    seen = {_name_key(name) for name in existing}
    for index, name in enumerate(new):
        key = _name_key(name)
        if key in seen:
            raise Refused(422, f"varian {name!r} sudah ada pada produk ini", f"variants.{index}.name")
        seen.add(key)
    if len(seen) > MAX_VARIANTS:
        raise Refused(422, f"paling banyak {MAX_VARIANTS} varian per produk", "variants")


def can_add_first_variant(reserved: int) -> bool:
    """A product becomes variant-based only when no order holds units of the product itself:
    those held units could not be given back to any variant."""
    return reserved == 0


class VariantUnits(Protocol):
    """What the totals of a product sold in variants are computed from (a stored variant)."""

    @property
    def price(self) -> int: ...
    @property
    def stock(self) -> int: ...
    @property
    def reserved(self) -> int: ...
    @property
    def sold(self) -> int: ...
    @property
    def active(self) -> bool: ...


def derived_totals(variants: Sequence[VariantUnits], sold_before_variants: int = 0) -> dict[str, int]:
    """A product sold in variants shows the sum of its active variants' available stock and its
    lowest active price ("mulai dari"), which is what search filters and sorts on; reserved and
    sold count every variant (inactive ones may still have orders to settle)."""
    active = [v for v in variants if v.active]
    priced = active or variants
    return {
        "stock": sum(v.stock for v in active),
        "price": min((v.price for v in priced), default=0),
        "reserved": sum(v.reserved for v in variants),
        "sold": sold_before_variants + sum(v.sold for v in variants),
    }


def _name_key(name: str) -> str:
    return " ".join(name.lower().split())


# --- stock low --------------------------------------------------------------------------------


def low_stock_transition(available: int, threshold: int | None, alerted: bool) -> tuple[bool, bool]:
    """(emit StockLow now, alerted afterwards).

    Low means strictly below the threshold. One alert per crossing: once alerted, further sales
    below the threshold stay silent until stock is back at or above it (restock, release),
    which re-arms the alert. No threshold (None or 0) means no alerts.
    """
    if not threshold:
        return False, False
    if available < threshold:
        return not alerted, True
    return False, False
