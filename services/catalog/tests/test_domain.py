"""Reservation planning (all lines or none, variants), variant rules and the stock-low rule."""

import pytest

from beli_contracts.values import OrderItem, SellerContact
from beli_runtime.errors import Refused
from catalog.documents import VariantDocument
from catalog.domain import (
    REGENCIES,
    StockedProduct,
    StockedVariant,
    can_add_first_variant,
    check_variant_names,
    derived_totals,
    low_stock_transition,
    plan_reservation,
)

SELLER = SellerContact(
    seller_id="slr-1", name="Madu Hutan Timor", email="madu@example.id", phone="081200000002", regency="Timor Tengah Selatan"
)


def product(
    pid: str, available: int, on_sale: bool = True, price: int = 85_000, variants: dict[str, StockedVariant] | None = None
) -> StockedProduct:
    return StockedProduct(
        id=pid,
        name=f"Produk {pid}",
        category="madu",
        price=price,
        available=available,
        on_sale=on_sale,
        seller=SELLER,
        variants=variants or {},
    )


def test_ntt_has_22_regencies() -> None:
    assert len(REGENCIES) == 22 and len(set(REGENCIES)) == 22


def test_reserves_every_line_at_the_catalog_price() -> None:
    plan = plan_reservation(
        [OrderItem(product_id="a", quantity=2), OrderItem(product_id="b", quantity=1)],
        {"a": product("a", 2, price=85_000), "b": product("b", 5, price=40_000)},
    )
    assert plan.outcome == "reserved"
    assert [(line.product_id, line.quantity, line.unit_price, line.subtotal) for line in plan.lines] == [
        ("a", 2, 85_000, 170_000),
        ("b", 1, 40_000, 40_000),
    ]
    assert all(line.variant_id is None for line in plan.lines)


def test_one_short_line_rejects_the_whole_order() -> None:
    plan = plan_reservation(
        [
            OrderItem(product_id="a", quantity=1),
            OrderItem(product_id="b", quantity=3),
            OrderItem(product_id="c", quantity=1),
            OrderItem(product_id="d", quantity=1),
        ],
        {"a": product("a", 10), "b": product("b", 2), "d": product("d", 5, on_sale=False)},
    )
    assert plan.outcome == "rejected"
    assert plan.lines == []
    reasons = {line.product_id: (line.reason, line.available) for line in plan.rejected}
    assert reasons == {"b": ("insufficient_stock", 2), "c": ("not_found", 0), "d": ("not_for_sale", 0)}


def test_repeated_product_lines_are_summed_before_checking_stock() -> None:
    plan = plan_reservation([OrderItem(product_id="a", quantity=2), OrderItem(product_id="a", quantity=2)], {"a": product("a", 3)})
    assert plan.outcome == "rejected"
    assert plan.rejected[0].requested == 4


def _tenun() -> StockedProduct:
    return product(
        "t",
        5,
        price=500_000,
        variants={
            "red": StockedVariant(id="red", name="Merah", price=650_000, available=2, active=True),
            "blue": StockedVariant(id="blue", name="Biru", price=600_000, available=3, active=True),
            "old": StockedVariant(id="old", name="Hijau", price=600_000, available=9, active=False),
        },
    )


def test_variant_lines_carry_the_variant_price_and_name() -> None:
    plan = plan_reservation(
        [OrderItem(product_id="t", variant_id="red", quantity=2), OrderItem(product_id="t", variant_id="blue", quantity=1)], {"t": _tenun()}
    )
    assert plan.outcome == "reserved"
    assert [(line.variant_id, line.unit_price, line.product_name) for line in plan.lines] == [
        ("red", 650_000, "Produk t (Merah)"),
        ("blue", 600_000, "Produk t (Biru)"),
    ]


def test_variant_stock_is_checked_per_variant_and_the_variant_is_required() -> None:
    plan = plan_reservation(
        [
            OrderItem(product_id="t", variant_id="red", quantity=1),
            OrderItem(product_id="t", variant_id="red", quantity=2),
            OrderItem(product_id="t", quantity=1),
            OrderItem(product_id="t", variant_id="old", quantity=1),
            OrderItem(product_id="t", variant_id="nope", quantity=1),
        ],
        {"t": _tenun()},
    )
    assert plan.outcome == "rejected"
    assert {(line.variant_id, line.reason, line.requested) for line in plan.rejected} == {
        ("red", "insufficient_stock", 3),
        (None, "not_for_sale", 1),
        ("old", "not_for_sale", 1),
        ("nope", "not_found", 1),
    }


def test_a_variant_of_a_product_without_variants_does_not_exist() -> None:
    plan = plan_reservation([OrderItem(product_id="a", variant_id="x", quantity=1)], {"a": product("a", 5)})
    assert (plan.outcome, plan.rejected[0].reason) == ("rejected", "not_found")


def test_variant_names_are_unique_ignoring_case_and_spaces() -> None:
    check_variant_names(["Merah"], ["Biru", "Hijau"])
    with pytest.raises(Refused) as error:
        check_variant_names(["Merah  Tua"], ["Biru", "merah tua"])
    assert error.value.field == "variants.1.name"
    with pytest.raises(Refused):
        check_variant_names([f"v{i}" for i in range(50)], ["v50"])


def test_first_variant_only_when_nothing_is_held_and_totals_follow_active_variants() -> None:
    assert can_add_first_variant(0) and not can_add_first_variant(1)
    variants = [
        VariantDocument(id="v1", name="a", price=650_000, stock=2, reserved=1, sold=4, active=True),
        VariantDocument(id="v2", name="b", price=600_000, stock=3, reserved=0, sold=1, active=True),
        VariantDocument(id="v3", name="c", price=100_000, stock=9, reserved=2, sold=0, active=False),
    ]
    assert derived_totals(variants, sold_before_variants=10) == {"stock": 5, "price": 600_000, "reserved": 3, "sold": 15}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # threshold 5: 7 → 4 alerts once; 3, 1, 0 stay silent; restock to 6 re-arms; 2 alerts again
        ([7, 4, 3, 1, 0, 6, 2], [False, True, False, False, False, False, True]),
        ([5, 4], [False, True]),  # 5 is not below 5
        ([4], [True]),  # already low when first seen (new product, new threshold)
    ],
)
def test_stock_low_fires_once_per_crossing(steps: list[int], expected: list[bool]) -> None:
    alerted, emitted = False, []
    for available in steps:
        emit, alerted = low_stock_transition(available, 5, alerted)
        emitted.append(emit)
    assert emitted == expected


def test_no_threshold_means_no_alert() -> None:
    assert low_stock_transition(0, None, False) == (False, False)
    assert low_stock_transition(0, 0, False) == (False, False)
