"""Levy rules as stored: every version is its own document, never edited or deleted.

Creating a version counts it on the ledger's head (`rules_version`, in the same transaction), so a
settlement, which claims the head anyway, knows whether the versions it read before are still all
there is: it reads the rules only after a change, not for every batch (issue 11). The head write
also makes creations take turns with each other and with every ledger append."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_contracts.payments import LevyRuleChanged, LevyRuleTerms
from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from beli_runtime.mongo import Session, ensure_index
from beli_runtime.service import ServiceRuntime
from payments.documents import LevyRuleDocument
from payments.domain import LevyRule
from payments.ledger import HEAD_ID
from payments.levy import GENESIS_HASH, RuleVersion, check_new_version, rule_id_for, select_rule, to_millis


def _version(rule: LevyRuleDocument) -> RuleVersion:
    return RuleVersion(
        rule_id=rule.rule_id,
        version=rule.version,
        rate_bps=rule.rate_bps,
        category=rule.category,
        regency=rule.regency,
        effective_from=rule.effective_from,
    )


def _terms(rule: LevyRuleDocument) -> LevyRuleTerms:
    return LevyRuleTerms(**asdict(_version(rule)))


class LevyRules:
    def __init__(self, runtime: ServiceRuntime, default_bps: int) -> None:
        self.runtime = runtime
        self.versions = runtime.db["levy_rules"]
        self.meta = runtime.db["levy_ledger_meta"]
        self.default = LevyRule(id="default", version=1, rate_bps=default_bps)
        self._known: tuple[int, list[RuleVersion]] | None = None  # the versions read at a head's rules_version

    async def ensure_indexes(self) -> None:
        await ensure_index(self.versions, [("rule_id", 1), ("version", 1)])
        await ensure_index(self.versions, [("created_at", 1)])

    async def all_versions(self, session: Session | None = None) -> list[RuleVersion]:
        return [_version(LevyRuleDocument.from_document(doc)) for doc in await self.versions.find({}, session=session).to_list()]

    async def history(self, rule_id: str | None = None) -> list[LevyRuleDocument]:
        query = {"rule_id": rule_id} if rule_id else {}
        found = await self.versions.find(query).sort([("created_at", 1), ("rule_id", 1), ("version", 1)]).to_list()
        return [LevyRuleDocument.from_document(doc) for doc in found]

    async def selector(self, at: datetime, rules_version: int, session: Session) -> Any:
        """A pure lookup (line -> rule) over the versions stored now, for the moment `at`, in a
        transaction that has claimed the ledger's head (which says `rules_version`): read again
        only if a version was created since the last read. Versions can only take effect at or
        after their creation, so none created after this transaction can be in force at an `at`
        taken before it, and none can be created while it runs (the head is claimed)."""
        if self._known is None or self._known[0] != rules_version:
            self._known = (rules_version, await self.all_versions(session))
        versions = self._known[1]
        return lambda line: select_rule(versions, line.category, line.seller.regency, at, self.default)

    async def create(
        self, *, rate_bps: int, category: str | None, regency: str | None, effective_from: datetime | None, reason: str, changed_by: str
    ) -> LevyRuleDocument:
        now = utcnow()
        starts = to_millis(effective_from or now)
        rule_id = rule_id_for(category, regency)

        async def work(session: Session) -> LevyRuleDocument:
            # One writer at a time: version numbers and the "same moment" check need a stable view.
            # Counted on the ledger's head: settlements see the change (module docstring).
            await self.meta.update_one(
                {"_id": HEAD_ID},
                {"$setOnInsert": {"sequence": 0, "hash": GENESIS_HASH, "closed": []}, "$inc": {"rules_version": 1}},
                upsert=True,
                session=session,
            )
            existing = await self.all_versions(session)
            check_new_version(existing, rate_bps, category, regency, starts, to_millis(now))
            previous = max((v for v in existing if v.rule_id == rule_id), key=lambda v: v.version, default=None)
            version = previous.version + 1 if previous else 1
            rule = LevyRuleDocument(
                id=f"{rule_id}:v{version}",
                rule_id=rule_id,
                version=version,
                rate_bps=rate_bps,
                category=category,
                regency=regency,
                effective_from=starts,
                reason=reason,
                changed_by=changed_by,
                created_at=to_millis(now),
            )
            await self.versions.insert_one(rule.to_document(), session=session)
            found = await self.versions.find_one({"_id": f"{rule_id}:v{previous.version}"}, session=session) if previous else None
            before = LevyRuleDocument.maybe(found)
            await self.runtime.outbox.add(
                session,
                LevyRuleChanged(current=_terms(rule), previous=_terms(before) if before else None, reason=reason, changed_by=changed_by),
                key=rule_id,
            )
            return rule

        try:
            return await self.runtime.write(work)
        except DuplicateKeyError:
            raise Refused(409, f"another version of {rule_id} was created at the same time; retry", "rule") from None
