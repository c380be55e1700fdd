"""Pick-up at an NTT Mart outlet: the sub-order rules, the code and its throttling. Pure, no I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from beli_contracts.values import SellerContact
from orders.documents import Delivery, SubOrder
from orders.domain import (
    PICKUP_ALPHABET,
    OrderStatus,
    SubOrderStatus,
    TransitionRefused,
    code_matches,
    complete,
    deliver_to_outlet,
    due_for_pickup_reminder,
    fulfilment_index,
    lock_seconds,
    new_pickup_code,
    order_status_after,
    return_uncollected,
    ship,
    uncollected_at,
    waiting_at,
    with_deliveries,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
BELU = {"outlet_id": "ntt-mart-belu", "name": "NTT Mart Belu", "regency": "Belu", "address": "", "opening_hours": "", "phone": ""}
PICKUP = Delivery.model_validate({"method": "pickup", "outlet": BELU})
COURIER = Delivery(method="courier")


def sub(seller_id: str, status: str = "PAID", delivery: Delivery | None = None) -> SubOrder:
    seller = SellerContact(seller_id=seller_id, name=seller_id, email=f"{seller_id}@umkm.id", phone="081200000001", regency="Belu")
    base = {"seller_id": seller_id, "seller": seller, "status": status, "lines": [], "gross": 0}
    return SubOrder.model_validate(base | ({"delivery": delivery} if delivery else {}))


def test_codes_are_six_unambiguous_characters_and_differ() -> None:
    codes = {new_pickup_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == 6 and set(code) <= set(PICKUP_ALPHABET) for code in codes)
    assert not set("01OIL") & set(PICKUP_ALPHABET)
    assert code_matches("k7q-m2x ", "K7QM2X") and not code_matches("K7QM2Y", "K7QM2X")


def test_wrong_codes_lock_after_the_free_tries_doubling_to_a_ceiling() -> None:
    assert [lock_seconds(n, 5, 60, 3600) for n in (1, 4, 5, 6, 7, 12)] == [0, 0, 60, 120, 240, 3600]


def test_deliveries_chosen_at_checkout_are_kept_courier_by_default() -> None:
    subs = with_deliveries([sub("slr-a"), sub("slr-b")], {"slr-b": PICKUP})
    assert [s.delivery.method for s in subs if s.delivery] == ["courier", "pickup"]
    index = fulfilment_index(subs)
    assert (index["outlet_ids"], index["outlet_states"]) == (["ntt-mart-belu"], ["ntt-mart-belu:PAID"])


def test_a_pickup_is_delivered_to_the_outlet_never_shipped_and_completes_only_at_the_outlet() -> None:
    parcel = sub("slr-a", delivery=PICKUP)
    with pytest.raises(TransitionRefused, match="deliver it to the outlet"):
        ship(parcel, "JNE", "JNE0001", NOW)
    with pytest.raises(TransitionRefused, match="ship it instead"):
        deliver_to_outlet(sub("slr-b", delivery=COURIER), NOW, 7, 1)
    arrived, changed = deliver_to_outlet(parcel, NOW, 7, 1)
    assert changed and arrived.status == "AT_OUTLET"
    assert (arrived.collect_before, arrived.remind_at) == (NOW + timedelta(days=7), NOW + timedelta(days=6))
    assert deliver_to_outlet(arrived, NOW + timedelta(hours=1), 7, 1) == (arrived, False)  # pressed twice
    with pytest.raises(TransitionRefused, match="handed over at the outlet"):
        complete(arrived, NOW, "shopper")
    done, changed = complete(arrived, NOW, "outlet")
    assert changed and (done.status, done.completed_by) == ("COMPLETED", "outlet")
    with pytest.raises(TransitionRefused):
        complete(sub("slr-c", "SHIPPED", COURIER), NOW, "outlet")


def test_only_parcels_past_their_deadline_at_that_outlet_can_be_returned() -> None:
    sikka = Delivery.model_validate({"method": "pickup", "outlet": BELU | {"outlet_id": "ntt-mart-sikka", "name": "NTT Mart Sikka"}})
    subs = [
        deliver_to_outlet(sub("slr-a", delivery=PICKUP), NOW, 2, 1)[0],
        deliver_to_outlet(sub("slr-b", delivery=PICKUP), NOW + timedelta(days=1), 2, 1)[0],
        deliver_to_outlet(sub("slr-c", delivery=sikka), NOW, 2, 1)[0],
    ]
    assert waiting_at(subs, "ntt-mart-belu") == [0, 1]
    assert uncollected_at(subs, "ntt-mart-belu", NOW + timedelta(days=2)) == [0]
    assert due_for_pickup_reminder(subs, NOW + timedelta(days=1)) == [0, 2]
    assert fulfilment_index(subs)["next_pickup_reminder_at"] == NOW + timedelta(days=1)
    returned = [return_uncollected(s, NOW) for s in subs]
    assert order_status_after(OrderStatus.PAID, returned) == OrderStatus.RETURNED
    mixed = [returned[0], complete(subs[1], NOW, "outlet")[0], returned[2]]
    assert order_status_after(OrderStatus.PAID, mixed) == OrderStatus.COMPLETED
    assert order_status_after(OrderStatus.PAID, [returned[0], subs[1]]) == OrderStatus.PAID
    assert SubOrderStatus.RETURNED.value == "RETURNED"
