"""PAD levy rules, accounting periods and reversals. Pure: no I/O, integers only.

A rule is a scope (category and/or regency, or neither) with versions; each version has a rate
and the moment it comes into force. Nothing here reads a clock: callers pass the moment.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beli_contracts import reference
from beli_runtime.clock import WITA, as_utc
from beli_runtime.errors import Refused
from payments.domain import BPS_DENOMINATOR, LevyRule

GENESIS_HASH = "0" * 64

REGENCIES: frozenset[str] = frozenset(reference.REGENCIES)
CATEGORIES: frozenset[str] = frozenset(reference.CATEGORIES)


@dataclass(frozen=True)
class RuleVersion:
    rule_id: str
    version: int
    rate_bps: int
    category: str | None
    regency: str | None
    effective_from: datetime

    @property
    def specificity(self) -> int:
        # category+regency (3) > category (2) > regency (1) > unscoped (0)
        return (2 if self.category else 0) + (1 if self.regency else 0)

    def matches(self, category: str, regency: str) -> bool:
        return (self.category is None or self.category == category) and (self.regency is None or self.regency == regency)

    def as_rule(self) -> LevyRule:
        return LevyRule(id=self.rule_id, version=self.version, rate_bps=self.rate_bps)


def rule_id_for(category: str | None, regency: str | None) -> str:
    """One rule per scope; its id is readable and stable so that a new version finds its rule."""
    slug = (regency or "*").lower().replace(" ", "-")
    return f"pad:{category or '*'}:{slug}"


def in_force(versions: list[RuleVersion], at: datetime) -> dict[str, RuleVersion]:
    """For each rule, the version in force at `at`: the latest effective_from not after it."""
    current: dict[str, RuleVersion] = {}
    for version in versions:
        if as_utc(version.effective_from) > as_utc(at):
            continue
        held = current.get(version.rule_id)
        if held is None or (as_utc(version.effective_from), version.version) > (as_utc(held.effective_from), held.version):
            current[version.rule_id] = version
    return current


def select_rule(versions: list[RuleVersion], category: str, regency: str, at: datetime, default: LevyRule) -> LevyRule:
    """The most specific rule in force at `at` that matches the line; `default` when none does."""
    candidates = [v for v in in_force(versions, at).values() if v.matches(category, regency)]
    if not candidates:
        return default
    best = max(candidates, key=lambda v: v.specificity)
    return best.as_rule()


def check_new_version(
    existing: list[RuleVersion], rate_bps: int, category: str | None, regency: str | None, effective_from: datetime, now: datetime
) -> None:
    """Refuse a rule version that is impossible, unknown, backdated or ambiguous."""
    if not 0 <= rate_bps <= BPS_DENOMINATOR:
        raise Refused(422, f"rate_bps must be between 0 and {BPS_DENOMINATOR} (100%), got {rate_bps}", "rate_bps")
    if regency is not None and regency not in REGENCIES:
        raise Refused(422, f"unknown regency {regency!r}: use one of the 22 kabupaten/kota of NTT", "regency")
    if category is not None and category not in CATEGORIES:
        raise Refused(422, f"unknown category {category!r}: use one of {', '.join(sorted(CATEGORIES))}", "category")
    # Settled sales keep the rule they used; a backdated version would make history disagree
    # with the rules that claim to have been in force.
    if as_utc(effective_from) < as_utc(now):
        raise Refused(422, "effective_from must not be in the past: rules apply from now on", "effective_from")
    rule_id = rule_id_for(category, regency)
    for version in existing:
        if version.rule_id == rule_id and as_utc(version.effective_from) == as_utc(effective_from):
            raise Refused(
                409,
                f"rule {rule_id} already has version {version.version} taking effect at "
                f"{as_utc(effective_from).isoformat()}: two versions of one scope cannot start at the same moment",
                "effective_from",
            )


# --- periods and time -------------------------------------------------------------------------


def period_of(moment: datetime) -> str:
    """Accounting month (YYYY-MM) in WITA: NTT's finance office closes months by local time."""
    return as_utc(moment).astimezone(WITA).strftime("%Y-%m")


def day_of(moment: datetime) -> str:
    return as_utc(moment).astimezone(WITA).strftime("%Y-%m-%d")


def month_has_ended(period: str, now: datetime) -> bool:
    return period < period_of(now)


def to_millis(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: truncate before hashing so the stored entry hashes the same."""
    moment = as_utc(moment)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --- refunds -----------------------------------------------------------------------------------


def reversed_share(recorded: int, recorded_quantity: int, refunded_quantity: int) -> int:
    """Cumulative part of `recorded` reversed once `refunded_quantity` of `recorded_quantity`
    units are refunded: proportional, rounded half-up. Each refund reverses the difference of
    this value before and after it, so the parts are integers, never exceed what was recorded,
    and the last unit reverses exactly the remainder."""
    if not 0 <= refunded_quantity <= recorded_quantity or recorded_quantity <= 0:
        raise ValueError(f"cannot refund {refunded_quantity} of {recorded_quantity} units")
    return (2 * recorded * refunded_quantity + recorded_quantity) // (2 * recorded_quantity)


# --- tamper evidence --------------------------------------------------------------------------


def canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_millis(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, float):
        raise TypeError("no floats in the ledger: amounts are integer Rupiah")
    if isinstance(value, dict):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical_value(v) for v in value]
    return value


def canonical_json(entry: dict[str, Any]) -> str:
    """Sorted keys, no spaces, ASCII, ISO UTC millisecond times. Everything but `hash` counts, so
    an edited, added or removed field changes the hash."""
    content = {key: value for key, value in entry.items() if key != "hash"}
    return json.dumps(canonical_value(content), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the entry's content, which includes `prev_hash`: a chain."""
    return hashlib.sha256(canonical_json(entry).encode()).hexdigest()


def first_break(entries: list[dict[str, Any]], prev_hash: str, prev_sequence: int) -> tuple[dict[str, Any], str] | None:
    """The first entry that does not follow from its predecessor, and why."""
    for entry in entries:
        if entry.get("sequence") != prev_sequence + 1:
            return entry, f"sequence {entry.get('sequence')} follows {prev_sequence}: an entry is missing or was inserted"
        if entry.get("prev_hash") != prev_hash:
            return entry, "prev_hash does not match the hash of the entry before it"
        if entry_hash(entry) != entry.get("hash"):
            return entry, "content does not match its hash: the entry was altered"
        prev_hash, prev_sequence = entry["hash"], entry["sequence"]
    return None


def utc_from_day(day: str, *, end: bool = False) -> datetime:
    """Start (or end) of a WITA calendar day, in UTC."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=WITA)
    if end:
        start = start.replace(hour=23, minute=59, second=59, microsecond=999000)
    return start.astimezone(UTC)
