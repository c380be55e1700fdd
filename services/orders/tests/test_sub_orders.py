"""Sub-orders (one per seller): grouping, settlement, the fulfilment state machine and the
order's completion. Pure functions, no I/O."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from beli_contracts.values import PricedLine, SellerContact, SettledLine
from orders.documents import SubOrder
from orders.domain import (
    SUB_ALLOWED,
    OrderStatus,
    SubOrderStatus,
    TransitionRefused,
    cancel_all,
    complete,
    due_for_auto_complete,
    fulfilment_index,
    group_by_seller,
    listing_key,
    order_status_after,
    settle,
    ship,
    sub_can_move,
)

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
WEAVER = SellerContact(seller_id="slr-tenun", name="Tenun Ina Sumba", email="ina@umkm.id", phone="081200000001", regency="Sumba Timur")
ROASTER = SellerContact(seller_id="slr-kopi", name="Kopi Bajawa", email="kopi@umkm.id", phone="081200000002", regency="Ngada")


def priced(product_id: str, seller: SellerContact, quantity: int, price: int, variant_id: str | None = None) -> PricedLine:
    return PricedLine(
        product_id=product_id,
        product_name=product_id,
        category="tenun" if seller is WEAVER else "kopi",
        seller=seller,
        quantity=quantity,
        unit_price=price,
        variant_id=variant_id,
    )


def settled(line: PricedLine, levy: int) -> SettledLine:
    return SettledLine(
        **line.model_dump(), levy=levy, seller_payable=line.subtotal - levy, levy_rule_id="rule-default", levy_rule_version=1
    )


LINES = [
    priced("prd-kain", WEAVER, 2, 750_000, "var-merah"),
    priced("prd-kopi", ROASTER, 3, 85_050),
    priced("prd-kain", WEAVER, 1, 700_000, "var-biru"),
]


def test_lines_are_grouped_per_seller_in_order_of_appearance() -> None:
    subs = group_by_seller(LINES)
    assert [s.seller_id for s in subs] == ["slr-tenun", "slr-kopi"]
    weaver, roaster = subs
    assert [(line.product_id, line.variant_id, line.subtotal) for line in weaver.lines] == [
        ("prd-kain", "var-merah", 1_500_000),
        ("prd-kain", "var-biru", 700_000),
    ]
    assert (weaver.gross, roaster.gross) == (2_200_000, 255_150)
    assert weaver.status == roaster.status == "AWAITING_PAYMENT"
    assert weaver.levy is None and weaver.seller_payable is None
    assert weaver.seller.name == "Tenun Ina Sumba" and "seller" not in weaver.lines[0].to_document()


def test_settlement_fills_levy_and_payable_per_line_and_the_sums_match_the_order() -> None:
    paid = [settled(LINES[0], 15_000), settled(LINES[1], 2_552), settled(LINES[2], 7_000)]
    subs = settle(group_by_seller(LINES), list(reversed(paid)))  # the order of the settled lines does not matter
    weaver, roaster = subs
    assert (weaver.status, weaver.levy, weaver.seller_payable) == ("PAID", 22_000, 2_178_000)
    assert (roaster.levy, roaster.seller_payable) == (2_552, 252_598)
    assert weaver.lines[1].levy == 7_000 and weaver.lines[1].levy_rule_id == "rule-default"
    assert sum(s.gross for s in subs) == sum(line.subtotal for line in LINES)
    assert sum(s.levy + s.seller_payable for s in subs) == sum(s.gross for s in subs)


def test_settlement_that_does_not_match_the_priced_lines_rebuilds_from_what_was_paid() -> None:
    paid = [settled(LINES[1], 2_552)]
    subs = settle(group_by_seller(LINES), paid)
    assert [(s.seller_id, s.status, s.levy) for s in subs] == [("slr-kopi", "PAID", 2_552)]
    assert settle([], paid)[0].seller_payable == 252_598  # an order priced before sub-orders existed


def test_sub_order_state_machine() -> None:
    assert sub_can_move(SubOrderStatus.AWAITING_PAYMENT, SubOrderStatus.PAID)
    assert sub_can_move(SubOrderStatus.PAID, SubOrderStatus.SHIPPED)
    assert sub_can_move(SubOrderStatus.SHIPPED, SubOrderStatus.COMPLETED)
    assert not sub_can_move(SubOrderStatus.PAID, SubOrderStatus.COMPLETED)
    assert not sub_can_move(SubOrderStatus.AWAITING_PAYMENT, SubOrderStatus.SHIPPED)
    for final in (SubOrderStatus.COMPLETED, SubOrderStatus.CANCELLED):
        assert SUB_ALLOWED[final] == frozenset()


def paid_sub() -> SubOrder:
    return settle(group_by_seller(LINES[:1]), [settled(LINES[0], 15_000)])[0]


def test_ship_once_repeat_is_harmless_another_tracking_number_is_refused() -> None:
    shipped, changed = ship(paid_sub(), "JNE", "JNE123456", NOW)
    assert changed and (shipped.status, shipped.courier, shipped.tracking_number, shipped.shipped_at) == (
        "SHIPPED",
        "JNE",
        "JNE123456",
        NOW,
    )
    again, changed = ship(shipped, "JNE", "JNE123456", NOW + timedelta(hours=1))
    assert not changed and again is shipped
    with pytest.raises(TransitionRefused, match="already SHIPPED"):
        ship(shipped, "JNE", "JNE999999", NOW)
    with pytest.raises(TransitionRefused, match="is AWAITING_PAYMENT"):
        ship(group_by_seller(LINES[:1])[0], "JNE", "JNE123456", NOW)
    with pytest.raises(TransitionRefused, match="is CANCELLED"):
        ship(cancel_all(group_by_seller(LINES[:1]))[0], "JNE", "JNE123456", NOW)


def test_complete_only_after_shipping_and_once() -> None:
    with pytest.raises(TransitionRefused, match="is PAID; only a SHIPPED"):
        complete(paid_sub(), NOW, "shopper")
    shipped, _ = ship(paid_sub(), "J&T", "JT0001", NOW)
    done, changed = complete(shipped, NOW + timedelta(days=1), "shopper")
    assert changed and (done.status, done.completed_by) == ("COMPLETED", "shopper")
    assert complete(done, NOW + timedelta(days=2), "auto") == (done, False)
    assert ship(done, "J&T", "JT0001", NOW) == (done, False)  # a late repeat of the shipment is harmless too


def test_order_completes_with_its_last_sub_order() -> None:
    paid = settle(group_by_seller(LINES), [settled(line, 1) for line in LINES])
    first = [ship(sub, "POS", f"POS{i}000", NOW)[0] for i, sub in enumerate(paid)]
    one_done = [complete(first[0], NOW, "shopper")[0], first[1]]
    assert order_status_after(OrderStatus.PAID, one_done) == OrderStatus.PAID
    all_done = [one_done[0], complete(first[1], NOW, "auto")[0]]
    assert order_status_after(OrderStatus.PAID, all_done) == OrderStatus.COMPLETED
    assert order_status_after(OrderStatus.COMPLETED, all_done) == OrderStatus.COMPLETED
    assert order_status_after(OrderStatus.CANCELLED, []) == OrderStatus.CANCELLED


def test_auto_complete_picks_only_sub_orders_in_transit_long_enough() -> None:
    paid = settle(group_by_seller(LINES), [settled(line, 1) for line in LINES])
    old = ship(paid[0], "JNE", "JNE0001", NOW - timedelta(days=8))[0]
    recent = ship(paid[1], "JNE", "JNE0002", NOW - timedelta(days=1))[0]
    assert due_for_auto_complete([old, recent], NOW - timedelta(days=7)) == ["slr-tenun"]
    assert due_for_auto_complete([paid[0], complete(old, NOW, "shopper")[0]], NOW) == []
    index = fulfilment_index([old, recent])
    assert index == {
        "seller_ids": ["slr-tenun", "slr-kopi"],
        "seller_states": ["slr-tenun:SHIPPED", "slr-kopi:SHIPPED"],
        "oldest_shipped_at": NOW - timedelta(days=8),
        "outlet_ids": [],
        "outlet_states": [],
        "next_pickup_reminder_at": None,
    }
    assert fulfilment_index(paid)["oldest_shipped_at"] is None


def test_listing_keys_sort_by_utc_time_then_id() -> None:
    earlier_in_wita = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))  # 01:30 UTC, before NOW
    keys = [listing_key(NOW, "BNTT-B"), listing_key(NOW, "BNTT-A"), listing_key(earlier_in_wita, "BNTT-C")]
    assert sorted(keys) == [keys[2], keys[1], keys[0]]
