"""The programme's own database: OPDs, the ASN roster, NIP links and claims, commitment versions,
export audit, and the read models built from sales events (see tallies.py)."""

import hashlib
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import DUPLICATE_KEY, Collection, Database, Session, ensure_index
from programme.domain import CommitmentVersion

Doc = dict[str, Any]
DIGEST_BUCKETS = 128
ROSTER_FIELDS = ("name", "opd_id", "government", "email", "phone")


class ProgrammeStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.opds = db["opds"]
        self.asn = db["asn"]
        self.links = db["links"]  # _id = account id -> the NIP it holds (one each way)
        self.claims = db["claims"]
        self.commitments = db["commitments"]
        self.exports = db["export_audit"]
        self.sales = db["sales"]  # per order: what counted, in which month, for whom
        self.spending = db["spending"]  # per account and month
        self.opd_months = db["opd_months"]
        self.government_months = db["government_months"]
        self.months = db["months"]  # programme dashboard figures per month
        self.actives = db["actives"]  # one row per (month, buyer|seller): distinct counts
        self.reminders = db["reminders"]  # _id = month:nip, the once-per-month guarantee

    async def ensure_indexes(self) -> None:
        await ensure_index(self.asn, [("opd_id", 1), ("_id", 1)])
        await ensure_index(self.links, "nip", unique=True)
        await ensure_index(self.claims, [("status", 1), ("opd_id", 1), ("created_at", 1)])
        await ensure_index(self.claims, [("account_id", 1), ("status", 1)])
        await ensure_index(self.spending, [("month", 1), ("opd_id", 1), ("spent", 1)])
        await ensure_index(self.spending, [("account_id", 1), ("month", 1)])
        await ensure_index(self.opd_months, [("month", 1), ("government", 1)])
        await ensure_index(self.government_months, "month")
        await ensure_index(self.opds, [("government", 1), ("name", 1)])
        await ensure_index(self.exports, "at")

    # --- OPDs -------------------------------------------------------------------------------

    async def add_opd(self, opd: Doc) -> Doc:
        doc = {**opd, "active": True, "asn_count": 0, "created_at": utcnow()}
        try:
            await self.opds.insert_one(doc)
        except DuplicateKeyError:
            raise ApiError(409, f"OPD dengan kode {opd['_id']} sudah ada", field="id") from None
        return doc

    async def upsert_opds(self, rows: list[Doc]) -> tuple[int, int]:
        now = utcnow()
        operations = [
            UpdateOne(
                {"_id": row["_id"]},
                {
                    "$set": {"name": row["name"], "government": row["government"]},
                    "$setOnInsert": {"active": True, "asn_count": 0, "created_at": now},
                },
                upsert=True,
            )
            for row in rows
        ]
        if not operations:
            return 0, 0
        result = await self.opds.bulk_write(operations, ordered=False)
        return result.upserted_count, result.matched_count

    async def opd_ids(self) -> set[str]:
        return {doc["_id"] for doc in await self.opds.find({}, {"_id": 1}).to_list()}

    async def opd(self, opd_id: str) -> Doc | None:
        return await self.opds.find_one({"_id": opd_id})

    # --- roster -----------------------------------------------------------------------------

    async def roster_digest(self) -> dict[str, str]:
        """What is on the roster as NIP -> "fingerprint:opd", kept in a few bucket documents:
        reading 150,000 roster rows back to compare costs minutes on this database, reading 128
        buckets does not."""
        entries: dict[str, str] = {}
        for bucket in await self.db["roster_digest"].find({}).to_list():
            entries.update(bucket["entries"])
        return entries

    async def insert_asn(self, docs: list[Doc]) -> list[str]:
        """Plain inserts (far cheaper than upserts here); returns the NIPs already on the roster but
        not in the digest (an import cut short), which the caller updates instead."""
        try:
            await self.asn.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            return [docs[e["index"]]["_id"] for e in error.details.get("writeErrors", []) if e.get("code") == DUPLICATE_KEY]
        return []

    async def update_asn(self, changes: list[tuple[str, Doc]]) -> None:
        if changes:
            await self.asn.bulk_write([UpdateOne({"_id": nip}, {"$set": fields}) for nip, fields in changes], ordered=False)

    async def save_digest(self, digest: dict[str, str], entries: dict[str, str]) -> None:
        """Whole bucket documents replaced: one write per touched bucket, never one per field."""
        touched = {digest_bucket(nip) for nip in entries}
        buckets: dict[int, dict[str, str]] = {bucket: {} for bucket in touched}
        for source in (digest, entries):  # entries last: the new value wins
            for nip, value in source.items():
                bucket = buckets.get(digest_bucket(nip))
                if bucket is not None:
                    bucket[nip] = value
        for bucket_id, values in buckets.items():
            await self.db["roster_digest"].replace_one({"_id": bucket_id}, {"_id": bucket_id, "entries": values}, upsert=True)

    async def add_asn_counts(self, moves: dict[str, int], opds: dict[str, Doc]) -> None:
        """ASN per OPD and per government (the denominators of every share), kept by increments."""
        governments: dict[str, int] = {}
        for opd_id, count in moves.items():
            if count == 0:
                continue
            await self.opds.update_one({"_id": opd_id}, {"$inc": {"asn_count": count}})
            government = (opds.get(opd_id) or await self.opds.find_one({"_id": opd_id}) or {}).get("government")
            if government:
                governments[government] = governments.get(government, 0) + count
        for government, count in governments.items():
            await self.db["government_counts"].update_one({"_id": government}, {"$inc": {"asn_count": count}}, upsert=True)

    # --- commitments ------------------------------------------------------------------------

    async def commitment_versions(self, session: Session | None = None) -> list[CommitmentVersion]:
        docs = await self.commitments.find({}, session=session).sort("effective_month", 1).to_list()
        return [CommitmentVersion(d["effective_month"], d["amount"], d["reason"], d["created_by"], d["created_at"]) for d in docs]

    async def add_commitment(self, version: CommitmentVersion) -> None:
        """One version per effective month (its `_id`): a second one for the same month is refused."""
        try:
            await self.commitments.insert_one({"_id": version.effective_month} | asdict(version))
        except DuplicateKeyError:
            raise ApiError(409, f"sudah ada versi komitmen untuk bulan {version.effective_month}", field="effective_month") from None

    # --- audit ------------------------------------------------------------------------------

    async def record_export(self, who: str, what: str, filters: Doc, rows: int) -> None:
        await self.exports.insert_one({"who": who, "what": what, "filters": filters, "rows": rows, "at": utcnow()})


class Changes:
    """Writes gathered in one transaction, merged per document: one `UpdateOne` each (`$inc` summed,
    `$push` appended in order, `$set` and `$setOnInsert` merged), so two sales of one buyer or one
    month in a batch are one write of their sum."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Doc]] = {}  # collection -> _id -> update operators
        self._upserts: set[tuple[str, str]] = set()

    def add(
        self,
        collection: str,
        doc_id: str,
        *,
        inc: dict[str, int] | None = None,
        push: Doc | None = None,
        fields: Doc | None = None,
        on_insert: Doc | None = None,
        upsert: bool = False,
    ) -> None:
        update = self._docs.setdefault(collection, {}).setdefault(doc_id, {})
        for field, amount in (inc or {}).items():
            increments = update.setdefault("$inc", {})
            increments[field] = increments.get(field, 0) + amount
        for field, value in (push or {}).items():
            update.setdefault("$push", {}).setdefault(field, {"$each": []})["$each"].append(value)
        if fields:
            update.setdefault("$set", {}).update(fields)
        if on_insert:
            update.setdefault("$setOnInsert", {}).update(on_insert)
        if upsert or on_insert:
            self._upserts.add((collection, doc_id))

    def writes(self, collection: str) -> list[UpdateOne]:
        docs = self._docs.pop(collection, {})
        return [UpdateOne({"_id": doc_id}, update, upsert=(collection, doc_id) in self._upserts) for doc_id, update in docs.items()]


class TallyBatch:
    """The read models' unit of work for one transaction's events (tallies.py): what they read is
    read with one `$in` per collection before their handlers run (and kept here as the handlers
    change it), what they write is gathered in `changes` and written after them with one
    `bulk_write` per collection. A document nobody read ahead is read once when first needed."""

    def __init__(self, store: "ProgrammeStore", session: Session) -> None:
        self.store = store
        self.session = session
        self.changes = Changes()
        self.sales: dict[str, Doc | None] = {}  # as before this batch, then as its handlers left them
        self.links: dict[str, Doc | None] = {}
        self.spending: dict[str, Doc] = {}  # only an ASN's (whose figures depend on it)
        self.asn: dict[str, Doc | None] = {}
        self._claims: dict[str, deque[bool]] = {}
        self._actives: dict[str, tuple[str, str]] = {}  # _id -> (month, kind), each once
        self._versions: list[CommitmentVersion] | None = None

    async def read_sales(self, order_ids: Iterable[str]) -> None:
        self.sales |= await self._read(self.store.sales, order_ids)

    async def claim_sales(self, claims: list[tuple[str, Doc]]) -> None:
        """The guarded upserts of the batch's sales (`$setOnInsert`, in event order, in one write):
        whether each one inserted is kept for its handler (`claimed`). A stored sale (counted, or
        an order cancelled before its money came) is left as it is; an upsert that finds it is no
        error (an error would abort the transaction)."""
        if not claims:
            return
        writes = [UpdateOne({"_id": order_id}, {"$setOnInsert": sale}, upsert=True) for order_id, sale in claims]
        result = await self.store.sales.bulk_write(writes, ordered=True, session=self.session)
        inserted = set(result.upserted_ids or {})
        for index, (order_id, _) in enumerate(claims):
            self._claims.setdefault(order_id, deque()).append(index in inserted)

    def claimed(self, order_id: str) -> bool:
        """Whether the next claim of this order, in event order, inserted its sale."""
        return self._claims[order_id].popleft()

    async def sale(self, order_id: str) -> Doc | None:
        if order_id not in self.sales:
            await self.read_sales([order_id])
        return self.sales[order_id]

    async def read_links(self, account_ids: Iterable[str]) -> None:
        self.links |= await self._read(self.store.links, account_ids)

    async def link(self, account_id: str) -> Doc | None:
        if account_id not in self.links:
            await self.read_links([account_id])
        return self.links[account_id]

    async def read_spending(self, keys: Iterable[tuple[str, str]]) -> None:
        """An account's months of spending ((account, month)); one not stored yet starts at zero."""
        wanted = {f"{account_id}:{month}": (account_id, month) for account_id, month in keys}
        wanted = {spending_id: key for spending_id, key in wanted.items() if spending_id not in self.spending}
        found = await self._read(self.store.spending, wanted)
        for spending_id, (account_id, month) in wanted.items():
            self.spending[spending_id] = found[spending_id] or {"_id": spending_id, "account_id": account_id, "month": month, "spent": 0}

    async def spending_of(self, account_id: str, month: str) -> Doc:
        await self.read_spending([(account_id, month)])
        return self.spending[f"{account_id}:{month}"]

    async def asn_of(self, nip: str) -> Doc | None:
        if nip not in self.asn:
            self.asn |= await self._read(self.store.asn, [nip])
        return self.asn[nip]

    async def versions(self) -> list[CommitmentVersion]:
        if self._versions is None:
            self._versions = await self.store.commitment_versions(self.session)
        return self._versions

    def active(self, month: str, kind: str, who: str) -> None:
        """Someone active in the month (one row per month, buyer|seller and person): distinct counts."""
        self._actives.setdefault(f"{month}:{kind}:{who}", (month, kind))

    async def flush(self) -> None:
        for name in ("sales", "spending", "opd_months", "government_months"):
            await self._write(self.store.db[name])
        for (month, kind), count in (await self._new_actives()).items():
            self.changes.add("months", month, inc={f"{kind}s": count}, upsert=True)
        # The month's document is every sale's: written last, so a transaction holds it the shortest time.
        await self._write(self.store.months)

    async def _new_actives(self) -> dict[tuple[str, str], int]:
        """The batch's active people in one write of upserts that only set on insert (a row already
        there is no error): how many were new per (month, kind)."""
        rows = list(self._actives.items())
        if not rows:
            return {}
        writes = [
            UpdateOne({"_id": row_id}, {"$setOnInsert": {"month": month, "kind": kind}}, upsert=True) for row_id, (month, kind) in rows
        ]
        result = await self.store.actives.bulk_write(writes, ordered=False, session=self.session)
        new: dict[tuple[str, str], int] = {}
        for index in result.upserted_ids or {}:
            new[rows[index][1]] = new.get(rows[index][1], 0) + 1
        return new

    async def _write(self, collection: Collection) -> None:
        writes = self.changes.writes(collection.name)
        if writes:
            await collection.bulk_write(writes, ordered=False, session=self.session)

    async def _read(self, collection: Collection, ids: Iterable[str]) -> dict[str, Doc | None]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        found = {doc["_id"]: doc for doc in await collection.find({"_id": {"$in": wanted}}, session=self.session).to_list()}
        return {doc_id: found.get(doc_id) for doc_id in wanted}


def digest_bucket(nip: str) -> int:
    return zlib.crc32(nip.encode()) % DIGEST_BUCKETS


def roster_fingerprint(fields: Doc) -> str:
    return hashlib.blake2b("\x1f".join(str(fields[f]) for f in ROSTER_FIELDS).encode(), digest_size=6).hexdigest()
