"""Reservation planning: all lines or none, with the reason for every refused line."""

from beli_contracts.values import OrderItem, SellerContact
from catalog.domain import REGENCIES, StockedProduct, plan_reservation

SELLER = SellerContact(seller_id="slr-1", name="Madu Hutan Timor", email="madu@example.id", phone="081200000002", regency="Timor Tengah Selatan")


def product(pid: str, available: int, on_sale: bool = True, price: int = 85_000) -> StockedProduct:
    return StockedProduct(id=pid, name=f"Produk {pid}", category="madu", price=price, available=available, on_sale=on_sale, seller=SELLER)


def test_ntt_has_22_regencies() -> None:
    assert len(REGENCIES) == 22 and len(set(REGENCIES)) == 22


def test_reserves_every_line_at_the_catalog_price() -> None:
    plan = plan_reservation([OrderItem(product_id="a", quantity=2), OrderItem(product_id="b", quantity=1)],
                            {"a": product("a", 2, price=85_000), "b": product("b", 5, price=40_000)})
    assert plan.outcome == "reserved"
    assert [(l.product_id, l.quantity, l.unit_price, l.subtotal) for l in plan.lines] == [("a", 2, 85_000, 170_000), ("b", 1, 40_000, 40_000)]


def test_one_short_line_rejects_the_whole_order() -> None:
    plan = plan_reservation(
        [OrderItem(product_id="a", quantity=1), OrderItem(product_id="b", quantity=3), OrderItem(product_id="c", quantity=1),
         OrderItem(product_id="d", quantity=1)],
        {"a": product("a", 10), "b": product("b", 2), "d": product("d", 5, on_sale=False)})
    assert plan.outcome == "rejected"
    assert plan.lines == []
    reasons = {line.product_id: (line.reason, line.available) for line in plan.rejected}
    assert reasons == {"b": ("insufficient_stock", 2), "c": ("not_found", 0), "d": ("not_for_sale", 0)}


def test_repeated_product_lines_are_summed_before_checking_stock() -> None:
    plan = plan_reservation([OrderItem(product_id="a", quantity=2), OrderItem(product_id="a", quantity=2)], {"a": product("a", 3)})
    assert plan.outcome == "rejected"
    assert plan.rejected[0].requested == 4
