"""The programme's own database: OPDs, the ASN roster, NIP links and claims, commitment versions,
export audit, and the read models built from sales events (see tallies.py)."""

import hashlib
import zlib
from dataclasses import asdict
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, Session, ensure_index
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
            return [docs[e["index"]]["_id"] for e in error.details.get("writeErrors", []) if e.get("code") == 11000]
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


def digest_bucket(nip: str) -> int:
    return zlib.crc32(nip.encode()) % DIGEST_BUCKETS


def roster_fingerprint(fields: Doc) -> str:
    return hashlib.blake2b("\x1f".join(str(fields[f]) for f in ROSTER_FIELDS).encode(), digest_size=6).hexdigest()
