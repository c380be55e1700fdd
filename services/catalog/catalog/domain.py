"""Catalog rules: where sellers may be, what may be sold, and whether an order can be reserved.

Pure functions and value objects; no I/O.
"""

from dataclasses import dataclass
from typing import Literal

from beli_contracts.catalog import RejectedLine
from beli_contracts.values import OrderItem, PricedLine, SellerContact

# The 22 regencies and cities (kabupaten/kota) of Nusa Tenggara Timur.
REGENCIES: tuple[str, ...] = (
    "Kota Kupang", "Kupang", "Timor Tengah Selatan", "Timor Tengah Utara", "Belu", "Malaka",
    "Alor", "Lembata", "Flores Timur", "Sikka", "Ende", "Nagekeo", "Ngada", "Manggarai Timur",
    "Manggarai", "Manggarai Barat", "Sumba Barat Daya", "Sumba Barat", "Sumba Tengah",
    "Sumba Timur", "Rote Ndao", "Sabu Raijua",
)

# Product categories, fixed so that levy rules and reports can be scoped by them.
CATEGORIES: dict[str, str] = {
    "tenun": "Tenun ikat dan kain tradisional",
    "kopi": "Kopi (Bajawa, Manggarai, dll.)",
    "madu": "Madu hutan",
    "garam": "Garam",
    "pangan": "Pangan olahan (jagung bose, kue, keripik)",
    "daging_olahan": "Daging olahan (sei)",
    "kelor": "Produk kelor (moringa)",
    "mete": "Jambu mete",
    "minyak_kelapa": "Minyak kelapa murni (VCO)",
    "kerajinan": "Kerajinan tangan",
    "lainnya": "Lainnya",
}

MAX_PRICE = 1_000_000_000  # Rp1 miliar per unit: anything above is a typing error
MAX_STOCK = 1_000_000


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


@dataclass(frozen=True)
class ReservationPlan:
    outcome: Literal["reserved", "rejected"]
    lines: list[PricedLine]
    rejected: list[RejectedLine]


def plan_reservation(items: list[OrderItem], products: dict[str, StockedProduct]) -> ReservationPlan:
    """All lines or none: a single line that cannot be served rejects the whole order."""
    needed = _merge_quantities(items)
    rejected: list[RejectedLine] = []
    lines: list[PricedLine] = []
    for product_id, quantity in needed.items():
        product = products.get(product_id)
        if product is None:
            rejected.append(RejectedLine(product_id=product_id, requested=quantity, available=0, reason="not_found"))
        elif not product.on_sale:
            rejected.append(RejectedLine(product_id=product_id, requested=quantity, available=0, reason="not_for_sale"))
        elif product.available < quantity:
            rejected.append(RejectedLine(product_id=product_id, requested=quantity, available=product.available, reason="insufficient_stock"))
        else:
            lines.append(PricedLine(product_id=product.id, product_name=product.name, category=product.category,
                                    seller=product.seller, quantity=quantity, unit_price=product.price))
    if rejected:
        return ReservationPlan("rejected", [], rejected)
    return ReservationPlan("reserved", lines, [])


def _merge_quantities(items: list[OrderItem]) -> dict[str, int]:
    """The same product twice in one order is one line of the summed quantity."""
    merged: dict[str, int] = {}
    for item in items:
        merged[item.product_id] = merged.get(item.product_id, 0) + item.quantity
    return merged
