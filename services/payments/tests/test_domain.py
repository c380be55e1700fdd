"""PAD levy arithmetic and Midtrans status rules."""

import pytest

from beli_contracts.values import PricedLine, SellerContact
from payments.domain import (
    MOVES,
    LevyRule,
    Outcome,
    PaymentStatus,
    classify,
    item_name,
    levy_for,
    rupiah_from_midtrans,
    settle_lines,
    signature_key,
    signature_valid,
)

SELLER = SellerContact(seller_id="slr-1", name="Tenun Ina", email="ina@example.id", phone="081200000001", regency="Sumba Timur")


def line(product_id: str, price: int, quantity: int) -> PricedLine:
    return PricedLine(
        product_id=product_id, product_name="Kain tenun", category="tenun", seller=SELLER, quantity=quantity, unit_price=price
    )


@pytest.mark.parametrize(
    ("gross", "bps", "levy"),
    [
        (150_000, 100, 1_500),
        (50, 100, 1),  # 0.5 rounds half-up to 1
        (49, 100, 0),  # 0.49 rounds down
        (150, 100, 2),  # 1.5 -> 2
        (250, 100, 3),  # 2.5 -> 3 (half-up, not banker's rounding)
        (1, 5000, 1),  # 0.5 -> 1
        (999_999, 125, 12_500),  # 12499.9875 -> 12500
        (0, 100, 0),
        (10_000, 0, 0),
        (10_000, 10_000, 10_000),
    ],
)
def test_levy_is_rounded_half_up_to_whole_rupiah(gross: int, bps: int, levy: int) -> None:
    assert levy_for(gross, bps) == levy


def test_levy_refuses_impossible_rates() -> None:
    with pytest.raises(ValueError):
        levy_for(100, 10_001)
    with pytest.raises(ValueError):
        levy_for(100, -1)


def test_order_levy_is_the_sum_of_line_levies_each_rounded() -> None:
    # Three lines of Rp50 each: 0.5 per line rounds to 1 each = 3, while 1% of Rp150 would be 2.
    lines = [line(f"p{i}", 50, 1) for i in range(3)]
    settled = settle_lines(lines, lambda _: LevyRule("default", 1, 100))
    assert [s.levy for s in settled] == [1, 1, 1]
    assert sum(s.levy for s in settled) == 3
    for s in settled:
        assert s.levy + s.seller_payable == s.unit_price * s.quantity
        assert (s.levy_rule_id, s.levy_rule_version) == ("default", 1)


def test_gross_identity_holds_for_many_odd_lines() -> None:
    lines = [line(f"p{i}", 1_000 + i * 37, 1 + i % 7) for i in range(200)]
    settled = settle_lines(lines, lambda _: LevyRule("r", 3, 137))
    assert sum(s.levy + s.seller_payable for s in settled) == sum(line.subtotal for line in lines)


def test_midtrans_statuses_mean_paid_or_not() -> None:
    assert classify("settlement", None) is Outcome.PAID
    assert classify("capture", "accept") is Outcome.PAID
    assert classify("capture", "challenge") is Outcome.WAITING
    for status in ("deny", "cancel", "expire", "failure"):
        assert classify(status, "accept") is Outcome.NOT_PAID
    assert classify("pending", None) is Outcome.WAITING
    assert classify("refund", None) is Outcome.REFUNDED


def test_stale_failure_cannot_undo_a_settlement() -> None:
    target, sources = MOVES[Outcome.NOT_PAID]
    assert target is PaymentStatus.FAILED
    assert PaymentStatus.SETTLED not in sources


def test_signature_is_sha512_of_the_documented_fields() -> None:
    body = {"order_id": "BNTT-1", "status_code": "200", "gross_amount": "150000.00"}
    key = "SB-Mid-server-x"
    body["signature_key"] = signature_key("BNTT-1", "200", "150000.00", key)
    assert len(body["signature_key"]) == 128
    assert signature_valid(body, key)
    assert not signature_valid(body | {"gross_amount": "1.00"}, key)
    assert not signature_valid(body, "another-key")
    assert not signature_valid({k: v for k, v in body.items() if k != "signature_key"}, key)


def test_midtrans_amounts_become_integer_rupiah() -> None:
    assert rupiah_from_midtrans("150000.00") == 150_000
    with pytest.raises(ValueError):
        rupiah_from_midtrans("150000.50")
    with pytest.raises(ValueError):
        rupiah_from_midtrans("abc")


def test_item_names_fit_midtrans_limit() -> None:
    assert len(item_name("Kain tenun ikat Sumba Timur motif kuda dan ayam, pewarna alami")) == 50
    assert item_name("Kopi Bajawa") == "Kopi Bajawa"
