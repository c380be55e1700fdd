"""Order lifecycle rules and request fingerprints."""

from orders.domain import SHOPPER_CANCELLABLE, UNPAID, OrderStatus, can_move, request_fingerprint, sources_of


def test_happy_path_and_failure_paths_are_allowed() -> None:
    assert can_move(OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT)
    assert can_move(OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID)
    assert can_move(OrderStatus.PENDING, OrderStatus.REJECTED)
    assert can_move(OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED)


def test_final_states_never_move() -> None:
    for final in (OrderStatus.COMPLETED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.RETURNED):
        assert not any(can_move(final, target) for target in OrderStatus)


def test_a_paid_order_completes_is_returned_uncollected_or_is_cancelled_only_when_its_units_lapsed() -> None:
    assert [target for target in OrderStatus if can_move(OrderStatus.PAID, target)] == [
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.RETURNED,
    ]
    assert sources_of(OrderStatus.COMPLETED) == ["PAID"]
    # Shoppers, failed payments and the sweeper cancel only unpaid orders.
    assert UNPAID == ["PENDING", "AWAITING_PAYMENT"]


def test_paid_only_from_awaiting_payment() -> None:
    assert sources_of(OrderStatus.PAID) == ["AWAITING_PAYMENT"]
    assert not can_move(OrderStatus.PENDING, OrderStatus.PAID)
    assert {OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT} == SHOPPER_CANCELLABLE


def test_fingerprint_ignores_key_order_but_not_content() -> None:
    a = {"customer": {"name": "A", "email": "a@x.id"}, "items": [{"product_id": "p", "quantity": 1}]}
    b = {"items": [{"quantity": 1, "product_id": "p"}], "customer": {"email": "a@x.id", "name": "A"}}
    assert request_fingerprint(a) == request_fingerprint(b)
    c = {**a, "items": [{"product_id": "p", "quantity": 2}]}
    assert request_fingerprint(a) != request_fingerprint(c)
