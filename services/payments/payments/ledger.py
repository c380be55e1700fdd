"""The PAD levy ledger: append-only, hash-chained, one entry per order line of every settled
payment and one reversal entry per refunded line. Nothing here updates or deletes an entry.

A single head document (`ledger_head`) holds the last sequence and hash. Every append updates
it inside the caller's transaction, so concurrent appends conflict and one retries: the chain
stays linear without a lock service. The head also lists the closed months, so an append and a
closing serialise on the same document.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from beli_contracts.payments import LevyEntry
from beli_contracts.values import SettledLine
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from payments.documents import LedgerHead, LevyEntryDocument
from payments.levy import GENESIS_HASH, day_of, entry_hash, first_break, period_of, to_millis
from payments.signing import StatementSigner

HEAD_ID = "ledger_head"
VERIFY_BATCH = 2_000


@dataclass(frozen=True)
class Settlement:
    """One settled payment's levy, to be booked: its lines, the rate of each product, its channel."""

    order_id: str
    lines: list[SettledLine]
    rate_bps: dict[str, int]
    channel: str = "online"


class LedgerConflict(Exception):
    """The head moved under us: the transaction must be retried (PyMongo does, for write conflicts)."""


class LevyLedger:
    def __init__(self, db: Database) -> None:
        self.entries = db["levy_entries"]
        self.meta = db["levy_ledger_meta"]
        self.closings = db["levy_period_closings"]

    async def ensure_indexes(self) -> None:
        # Two entries can never share a place in the chain. Ledgers from before this index had a
        # plain one of the same name: replace it (a duplicate already stored makes this fail loudly).
        plain = (await self.entries.index_information()).get("sequence_1")
        if plain is not None and not plain.get("unique"):
            await self.entries.drop_index("sequence_1")
        await ensure_index(self.entries, [("sequence", 1)], unique=True)
        await ensure_index(self.entries, [("order_id", 1), ("sequence", 1)])
        await ensure_index(self.entries, [("seller_id", 1), ("sequence", 1)])
        await ensure_index(self.entries, [("day", 1), ("sequence", 1)])
        await ensure_index(self.entries, [("period", 1), ("sequence", 1)])
        await ensure_index(self.entries, [("recorded_at", 1)])

    async def head(self, session: Session | None = None) -> LedgerHead:
        head = await self.meta.find_one({"_id": HEAD_ID}, session=session)
        return LedgerHead.from_document(head or {"_id": HEAD_ID, "sequence": 0, "hash": GENESIS_HASH, "closed": []})

    async def append(
        self, session: Session, drafts: list[dict[str, Any]], at: datetime, head: LedgerHead | None = None
    ) -> list[dict[str, Any]]:
        """Chain and insert entries (in order) in the caller's transaction; returns them as stored.
        Each entry is hashed as the very document that is inserted, so drafts and entries stay
        plain documents here (the chain takes any; levy entries are read as LevyEntryDocument).
        `head`: as the caller claimed it earlier in this transaction (`claim_head`)."""
        head = head or await self.claim_head(session)
        closed = set(head.closed)
        recorded_at = to_millis(at)
        natural = period_of(recorded_at)
        # A closed month takes no more entries: they count in the month being written now
        # (never closed, since only ended months can be closed) and keep the original month.
        period = natural if natural not in closed else period_of(utcnow())
        sequence, prev_hash = head.sequence, head.hash
        stored = []
        for draft in drafts:
            sequence += 1
            entry = {
                **draft,
                "sequence": sequence,
                "period": period,
                "day": day_of(recorded_at),
                "recorded_at": recorded_at,
                "prev_hash": prev_hash,
            }
            if period != natural:
                entry["original_period"] = natural
            entry["hash"] = prev_hash = entry_hash(entry)
            stored.append(entry)
        if stored:
            await self.entries.insert_many(stored, session=session)
        moved = await self.meta.update_one(
            {"_id": HEAD_ID, "sequence": head.sequence},
            {"$set": {"sequence": sequence, "hash": prev_hash, "updated_at": recorded_at}},
            session=session,
        )
        if moved.matched_count != 1:
            raise LedgerConflict("ledger head moved during append")
        return stored

    async def claim_head(self, session: Session) -> LedgerHead:
        """The head, written (its write lock taken) in the caller's transaction before an append:
        a concurrent appender, closing or rule change conflicts early; the same round trip reads it."""
        head = await self.meta.find_one_and_update(
            {"_id": HEAD_ID},
            {"$setOnInsert": {"sequence": 0, "hash": GENESIS_HASH, "closed": []}, "$set": {"claimed_at": utcnow()}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return LedgerHead.from_document(head) if head else await self.head(session)  # an upsert returning AFTER always has it

    async def record_settlements(
        self, session: Session, settlements: Sequence[Settlement], settled_at: datetime, head: LedgerHead
    ) -> dict[str, list[LevyEntryDocument]]:
        """Book the levy of several settled payments in one append, on the head the caller claimed;
        the entries of each order, by order id."""
        drafts = [draft for settlement in settlements for draft in levy_drafts(settlement)]
        booked: dict[str, list[LevyEntryDocument]] = {settlement.order_id: [] for settlement in settlements}
        for entry in await self.append(session, drafts, settled_at, head):
            booked[entry["order_id"]].append(LevyEntryDocument.from_document(entry))
        return booked

    async def for_order(self, order_id: str, session: Session | None = None) -> list[LevyEntryDocument]:
        query = {"order_id": order_id, "sequence": await self.chain_bound(session)}
        found = await self.entries.find(query, session=session).sort("sequence", 1).to_list()
        return [LevyEntryDocument.from_document(entry) for entry in found]

    async def chain_bound(self, session: Session | None = None) -> dict[str, Any]:
        """The sequences inside the chain now, as a query on `sequence`. Reports count only these:
        an entry without a numeric sequence, or beyond the head, was never chained nor verified."""
        head = await self.head(session)
        return {"$gte": 1, "$lte": head.sequence}

    async def verify(self, signer: StatementSigner | None = None) -> dict[str, Any]:
        """Walk the chain in sequence order up to the head read at the start (entries appended
        meanwhile are the next walk's); report the first thing that breaks it. Entries are checked as
        the raw stored documents: what was hashed is what must still be there."""
        head = await self.head()
        prev_hash, prev_sequence, checked = GENESIS_HASH, 0, 0
        while prev_sequence < head.sequence:
            window = {"$gt": prev_sequence, "$lte": head.sequence}
            batch = await self.entries.find({"sequence": window}).sort("sequence", 1).limit(VERIFY_BATCH).to_list()
            if not batch:
                break
            broken = first_break(batch, prev_hash, prev_sequence)
            if broken is not None:
                entry, reason = broken
                return _verdict(False, checked + batch.index(entry), head, entry, reason)
            checked += len(batch)
            prev_hash, prev_sequence = batch[-1]["hash"], batch[-1]["sequence"]
        if (prev_sequence, prev_hash) != (head.sequence, head.hash):
            # Entries missing at the end (or a forged head): the chain is shorter than recorded.
            return _verdict(
                False,
                checked,
                head,
                None,
                f"the chain ends at sequence {prev_sequence} but the head records {head.sequence}: entries at the end were removed",
            )
        stray = await self._outside_chain(head)
        if stray is not None:
            reason = (
                f"entry with sequence {stray.get('sequence')!r} is not part of the chain (written without the head): "
                "no report counts it; remove it or find out who wrote it"
            )
            return _verdict(False, checked, head, stray, reason)
        closings = await check_closings(self, signer)
        if closings["broken"] is not None:
            anchor, reason = closings["broken"]
            return _verdict(False, checked, head, anchor, reason)
        return _verdict(True, checked, head, None, None) | {"unsigned_closings": closings["unsigned"]}

    async def _outside_chain(self, head: LedgerHead) -> dict[str, Any] | None:
        """An entry whose sequence is missing, not a number, or beyond every head: one nobody chained."""
        candidates = await self.entries.find({"$nor": [{"sequence": {"$gte": 1, "$lte": head.sequence}}]}).limit(100).to_list()
        if not candidates:
            return None
        # Read after the candidates: an entry appended properly moved the head in its own transaction.
        now = await self.head()
        for entry in candidates:
            sequence = entry.get("sequence")
            if isinstance(sequence, int) and not isinstance(sequence, bool) and head.sequence < sequence <= now.sequence:
                continue  # appended while we walked
            return entry
        return None


async def check_closings(ledger: LevyLedger, signer: StatementSigner | None) -> dict[str, Any]:
    """Every closing's signed statement must still be valid and its head still be in the chain."""
    unsigned: list[str] = []
    for closing in await ledger.closings.find().sort("_id", 1).to_list():
        recorded = {"head_sequence": closing["head_sequence"], "head_hash": closing["head_hash"]}
        if not closing.get("signature"):
            unsigned.append(closing["_id"])  # closed before statements were signed
        elif signer is not None and signer.available:
            if not signer.signature_valid(closing["statement"], closing["signature"]):
                return {"broken": (None, f"closing of {closing['_id']}: its signature does not match its statement"), "unsigned": unsigned}
            signed = json.loads(closing["statement"])
            if {key: signed.get(key) for key in recorded} != recorded:
                reason = (
                    f"closing of {closing['_id']} was altered after it was signed: the signed head is {signed.get('head_hash', '')[:12]}…"
                )
                return {"broken": (None, reason), "unsigned": unsigned}
        anchor = await ledger.entries.find_one({"sequence": recorded["head_sequence"]}) if recorded["head_sequence"] else None
        anchor_hash = anchor["hash"] if anchor else GENESIS_HASH
        if anchor_hash != recorded["head_hash"]:
            reason = (
                f"closing of {closing['_id']} recorded chain head {recorded['head_hash'][:12]}… at sequence "
                f"{recorded['head_sequence']}, the chain now has {anchor_hash[:12]}…"
            )
            return {"broken": (anchor, reason), "unsigned": unsigned}
    return {"broken": None, "unsigned": unsigned}


def _verdict(ok: bool, checked: int, head: LedgerHead, entry: dict[str, Any] | None, reason: str | None) -> dict[str, Any]:
    broken = (
        None
        if entry is None and reason is None
        else {"sequence": entry.get("sequence") if entry else None, "entry_id": entry.get("_id") if entry else None, "reason": reason}
    )
    return {"ok": ok, "entries_checked": checked, "head_sequence": head.sequence, "head_hash": head.hash, "first_broken": broken}


def levy_drafts(settlement: Settlement) -> list[dict[str, Any]]:
    """The ledger entries of one settled payment, one per order line, before they are chained."""
    # Only an outlet's sale names its channel: online entries keep the fields (and hashes) they always had.
    sold_at = {"channel": settlement.channel} if settlement.channel != "online" else {}
    order_id = settlement.order_id
    return [
        {
            # The _id makes a second recording of the same settlement impossible, whatever the
            # path; two variants of one product are two lines, so the variant is part of it.
            "_id": f"{order_id}:{line.product_id}{f':{line.variant_id}' if line.variant_id else ''}:levy",
            "kind": "levy",
            "order_id": order_id,
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "product_name": line.product_name,
            "seller_id": line.seller.seller_id,
            "seller_name": line.seller.name,
            "regency": line.seller.regency,
            "category": line.category,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "gross": line.subtotal,
            "levy": line.levy,
            "seller_payable": line.seller_payable,
            "rule_id": line.levy_rule_id,
            "rule_version": line.levy_rule_version,
            "rate_bps": settlement.rate_bps[line.product_id],
            "reverses": None,
            "refund_id": None,
            **sold_at,
        }
        for line in settlement.lines
    ]


def as_event_entry(entry: LevyEntryDocument) -> LevyEntry:
    return LevyEntry(entry_id=entry.id, **{key: getattr(entry, key) for key in LevyEntry.model_fields if key != "entry_id"})
