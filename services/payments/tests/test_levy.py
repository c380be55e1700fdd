"""PAD levy rules in force, rounding across many lines, reversals and the hash chain. Pure."""

from datetime import UTC, datetime, timedelta

import pytest

from beli_contracts.values import PricedLine, SellerContact
from beli_runtime.errors import Refused
from payments.domain import LevyRule, levy_for, settle_lines
from payments.levy import (
    GENESIS_HASH,
    RuleVersion,
    check_new_version,
    entry_hash,
    first_break,
    period_of,
    reversed_share,
    rule_id_for,
    select_rule,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DEFAULT = LevyRule("default", 1, 100)


def version(bps: int, *, category: str | None = None, regency: str | None = None, at: datetime = T0, number: int = 1) -> RuleVersion:
    return RuleVersion(rule_id_for(category, regency), number, bps, category, regency, at)


def line(product_id: str, price: int, quantity: int, category: str = "kopi", regency: str = "Ngada") -> PricedLine:
    seller = SellerContact(seller_id="slr-1", name="Kopi Ine", email="ine@example.id", phone="0812", regency=regency)
    return PricedLine(product_id=product_id, product_name="Kopi", category=category, seller=seller, quantity=quantity, unit_price=price)


RULES = [version(150), version(200, regency="Ngada"), version(250, category="kopi"), version(300, category="kopi", regency="Ngada")]


@pytest.mark.parametrize(
    ("category", "regency", "bps"),
    [
        ("kopi", "Ngada", 300),  # category + regency
        ("kopi", "Sikka", 250),  # category beats regency
        ("tenun", "Ngada", 200),  # regency beats the unscoped rule
        ("tenun", "Sikka", 150),  # the configured unscoped rule beats the environment default
    ],
)
def test_most_specific_rule_in_force_wins(category: str, regency: str, bps: int) -> None:
    assert select_rule(RULES, category, regency, T0 + timedelta(days=1), DEFAULT).rate_bps == bps


def test_environment_default_applies_when_nothing_is_configured_or_in_force_yet() -> None:
    assert select_rule([], "kopi", "Ngada", T0, DEFAULT) == DEFAULT
    assert select_rule(RULES, "kopi", "Ngada", T0 - timedelta(seconds=1), DEFAULT) == DEFAULT


def test_a_sale_uses_the_version_in_force_at_its_settlement_time() -> None:
    versions = [version(250, category="kopi"), version(400, category="kopi", at=T0 + timedelta(days=10), number=2)]
    before = select_rule(versions, "kopi", "Ende", T0 + timedelta(days=9), DEFAULT)
    after = select_rule(versions, "kopi", "Ende", T0 + timedelta(days=10), DEFAULT)
    assert (before.id, before.version, before.rate_bps) == ("pad:kopi:*", 1, 250)
    assert (after.id, after.version, after.rate_bps) == ("pad:kopi:*", 2, 400)


@pytest.mark.parametrize(
    ("bps", "category", "regency", "field"),
    [
        (-1, None, None, "rate_bps"),
        (10_001, None, None, "rate_bps"),
        (100, None, "Jakarta", "regency"),
        (100, "narkoba", None, "category"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(bps: int, category: str | None, regency: str | None, field: str) -> None:
    with pytest.raises(Refused) as refused:
        check_new_version([], bps, category, regency, T0, T0)
    assert refused.value.field == field


def test_backdated_and_same_moment_versions_are_refused() -> None:
    with pytest.raises(Refused, match="past"):
        check_new_version([], 100, None, None, T0 - timedelta(minutes=1), T0)
    with pytest.raises(Refused) as ambiguous:
        check_new_version([version(250, category="kopi", at=T0 + timedelta(days=1))], 300, "kopi", None, T0 + timedelta(days=1), T0)
    assert ambiguous.value.status == 409
    check_new_version([version(250, category="kopi", at=T0 + timedelta(days=1))], 300, "kopi", "Ngada", T0 + timedelta(days=1), T0)


def test_many_lines_whose_levies_round_differently_still_add_up() -> None:
    # 137 bps on these grosses gives fractions on both sides of .5: each line rounds on its own.
    lines = [
        line(f"p{i}", 365 + 73 * i, 1 + i % 5, category=("kopi", "tenun")[i % 2], regency=("Ngada", "Sikka", "Ende")[i % 3])
        for i in range(300)
    ]
    versions = [version(137), version(250, category="kopi"), version(333, category="tenun", regency="Sikka")]
    settled = settle_lines(lines, lambda priced: select_rule(versions, priced.category, priced.seller.regency, T0, DEFAULT))
    rates = {"pad:*:*": 137, "pad:kopi:*": 250, "pad:tenun:sikka": 333}
    remainders = [p.subtotal * rates[s.levy_rule_id] % 10_000 for p, s in zip(lines, settled, strict=True)]
    assert sum(r >= 5_000 for r in remainders) > 20 and sum(0 < r < 5_000 for r in remainders) > 20  # both ways
    for priced, s in zip(lines, settled, strict=True):
        assert (
            s.levy == levy_for(priced.subtotal, rates[s.levy_rule_id]) == (priced.subtotal * rates[s.levy_rule_id] * 2 + 10_000) // 20_000
        )
        assert s.levy + s.seller_payable == priced.subtotal
    assert sum(s.levy + s.seller_payable for s in settled) == sum(p.subtotal for p in lines)
    kopi = [(p, s) for p, s in zip(lines, settled, strict=True) if s.levy_rule_id == "pad:kopi:*"]
    # The order levy is the sum of rounded line levies, not the levy of the summed gross.
    assert sum(s.levy for _, s in kopi) != levy_for(sum(p.subtotal for p, _ in kopi), 250)
    assert {s.levy_rule_id for s in settled} == set(rates)


@pytest.mark.parametrize("recorded", [0, 1, 7, 1_000, 2_552])
@pytest.mark.parametrize("steps", [[1, 1, 1], [2, 1], [3], [1, 2]])
def test_partial_reversals_never_exceed_the_levy_and_end_exactly_on_it(recorded: int, steps: list[int]) -> None:
    quantity, refunded, reversed_total = 3, 0, 0
    for step in steps:
        part = reversed_share(recorded, quantity, refunded + step) - reversed_share(recorded, quantity, refunded)
        assert part >= 0
        refunded += step
        reversed_total += part
        assert reversed_total <= recorded
    assert reversed_total == recorded


def test_half_reversal_rounds_half_up() -> None:
    assert reversed_share(3, 2, 1) == 2  # 1.5 -> 2
    assert reversed_share(5, 4, 1) == 1  # 1.25 -> 1
    with pytest.raises(ValueError):
        reversed_share(5, 4, 5)


def test_periods_are_wita_months() -> None:
    assert period_of(datetime(2025, 1, 31, 15, 59, tzinfo=UTC)) == "2025-01"
    assert period_of(datetime(2025, 1, 31, 16, 0, tzinfo=UTC)) == "2025-02"  # 00:00 WITA on 1 February


def _chain(n: int) -> list[dict]:
    entries, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        entry = {"_id": f"o{i}:p:levy", "sequence": i, "gross": 1000 * i, "levy": 10 * i, "recorded_at": T0, "prev_hash": prev}
        entry["hash"] = prev = entry_hash(entry)
        entries.append(entry)
    return entries


def test_hash_chain_finds_the_first_altered_removed_or_rehashed_entry() -> None:
    assert first_break(_chain(5), GENESIS_HASH, 0) is None
    altered = _chain(5)
    altered[2]["levy"] = 0
    assert first_break(altered, GENESIS_HASH, 0)[0]["sequence"] == 3
    removed = _chain(5)
    del removed[1]
    assert first_break(removed, GENESIS_HASH, 0)[0]["sequence"] == 3
    rehashed = _chain(5)
    rehashed[1]["levy"] = 0
    rehashed[1]["hash"] = entry_hash(rehashed[1])  # a forger who recomputes one hash breaks the next link
    broken, reason = first_break(rehashed, GENESIS_HASH, 0)
    assert broken["sequence"] == 3 and "prev_hash" in reason


def test_hashing_refuses_floats_and_ignores_microseconds_mongodb_drops() -> None:
    entry = {"gross": 1, "recorded_at": datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)}
    assert entry_hash(entry) == entry_hash(entry | {"recorded_at": datetime(2025, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)})
    with pytest.raises(TypeError):
        entry_hash({"gross": 1.5})
