"""Closing a month: its totals and the chain head are stored, signed, and published outside the
database (the `payments.ledger_month_closed` event and a statement file finance keeps), so a
ledger rewritten later — hashes, head and closing records included — no longer matches."""

import json
import re
from typing import Any

from beli_contracts.payments import LedgerMonthClosed
from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from payments.audit import AMOUNTS, sums
from payments.ledger import HEAD_ID, LevyLedger
from payments.levy import GENESIS_HASH, month_has_ended, to_millis
from payments.signing import STATEMENT_KIND, StatementSigner, statement_fields

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class PeriodClosing:
    def __init__(self, runtime: ServiceRuntime, ledger: LevyLedger, signer: StatementSigner) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.signer = signer

    async def _first_month(self) -> str | None:
        query = {"sequence": await self.ledger.chain_bound()}
        first = await self.ledger.entries.find_one(query, {"period": 1, "original_period": 1}, sort=[("sequence", 1)])
        return None if first is None else first.get("original_period") or first["period"]

    async def closings(self) -> list[dict[str, Any]]:
        return await self.ledger.closings.find().sort("_id", 1).to_list()

    async def close(self, period: str, closed_by: str, note: str) -> dict[str, Any]:
        if not PERIOD.match(period):
            raise Refused(422, f"period must look like YYYY-MM, got {period!r}", "period")
        if not month_has_ended(period, utcnow()):
            raise Refused(409, f"{period} has not ended yet (WITA): only past months can be closed", "period")
        # Closing is permanent: a month before the ledger began (0000-01, say) is a mistake, never a closing.
        first = await self._first_month()
        if first is None or period < first:
            began = f"the ledger begins in {first}" if first else "the ledger has no entries yet"
            raise Refused(422, f"{period} is before the ledger's first month: {began}", "period")
        if not self.signer.available:
            raise Refused(503, "the ledger signing key (LEDGER_SIGNING_KEY_FILE) is not configured: a month cannot be closed unsigned")

        async def work(session: Session) -> dict[str, Any]:
            # Writing the head serialises the closing with every append (see ledger.py).
            await self.ledger.meta.update_one(
                {"_id": HEAD_ID},
                {"$setOnInsert": {"sequence": 0, "hash": GENESIS_HASH}, "$set": {"claimed_at": utcnow()}},
                upsert=True,
                session=session,
            )
            head = await self.ledger.head(session)
            if period in head.closed:
                raise Refused(409, f"{period} is already closed", "period")
            # Only chained entries count: the totals are what the signed head vouches for.
            match = {"period": period, "sequence": {"$gte": 1, "$lte": head.sequence}}
            found = await (
                await self.ledger.entries.aggregate([{"$match": match}, {"$group": {"_id": None, **sums()}}], session=session)
            ).to_list()
            totals = {"entries": 0, **dict.fromkeys(AMOUNTS, 0)} | ({k: v for k, v in found[0].items() if k != "_id"} if found else {})
            closing = {
                "_id": period,
                **totals,
                "head_sequence": head.sequence,
                "head_hash": head.hash,
                "closed_by": closed_by,
                "note": note,
                "closed_at": to_millis(utcnow()),
            }
            closing |= self.signer.sign(statement_fields(closing))
            await self.ledger.closings.insert_one(closing, session=session)
            await self.ledger.meta.update_one({"_id": HEAD_ID}, {"$addToSet": {"closed": period}}, session=session)
            event = LedgerMonthClosed(period=period, **{k: v for k, v in closing.items() if k not in ("_id", "note")})
            await self.runtime.outbox.add(session, event, key=period)
            return closing

        return await self.runtime.write(work)

    async def statement(self, period: str) -> dict[str, Any]:
        """The signed statement of a closed month, as the file finance keeps."""
        closing = await self.ledger.closings.find_one({"_id": period})
        if closing is None:
            raise Refused(404, f"{period} is not closed", "period")
        if not closing.get("signature"):
            raise Refused(409, f"{period} was closed before closings were signed: it has no statement", "period")
        return {
            "statement": closing["statement"],
            "signature": closing["signature"],
            "key_id": closing["key_id"],
            "algorithm": "Ed25519",
            "public_key": self.signer.public_pem(),
            "content": json.loads(closing["statement"]),
        }

    async def check(self, statement: str, signature: str) -> dict[str, Any]:
        """Check a statement finance kept: our signature, then that today's chain still has that head."""
        if not self.signer.signature_valid(statement, signature):
            return {
                "ok": False,
                "reason": "the signature does not match the statement: it was not signed by this ledger's key, or was edited",
            }
        content = json.loads(statement)
        if content.get("kind") != STATEMENT_KIND:
            return {"ok": False, "reason": f"not a month-closing statement (kind {content.get('kind')!r})"}
        period, sequence, expected = content["period"], content["head_sequence"], content["head_hash"]
        verdict = await self.ledger.verify(self.signer)
        anchor = await self.ledger.entries.find_one({"sequence": sequence}) if sequence else None
        found = anchor["hash"] if anchor else GENESIS_HASH
        if found != expected:
            return {
                "ok": False,
                "period": period,
                "reason": f"the chain was rewritten: at sequence {sequence} the statement of {period} has "
                f"{expected[:12]}…, the ledger now has {found[:12]}…",
                "chain": verdict,
            }
        if not verdict["ok"]:
            return {
                "ok": False,
                "period": period,
                "reason": "the statement's head is in the chain, but the chain is broken",
                "chain": verdict,
            }
        return {"ok": True, "period": period, "head_sequence": sequence, "head_hash": expected, "chain": verdict}
