"""The programme's own database: OPDs, the ASN roster, NIP links and claims, commitment versions,
export audit, and the read models built from sales events (see tallies.py)."""

import hashlib
import zlib
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, Session, ensure_index

Doc = dict[str, Any]
IMPORT_BATCH = 2000
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

    async def upsert_roster(self, rows: list[Doc], opds: dict[str, Doc]) -> tuple[int, int]:
        """Insert new ASN, update known ones whose data changed (matched by NIP); never a duplicate.

        What is on the roster is also kept as a digest (NIP -> fingerprint and OPD) in a few
        bucket documents: reading 150,000 roster rows back to compare costs minutes on this
        database, reading 128 buckets does not. Plain inserts and skipped unchanged rows are far
        cheaper than upserts, so an unchanged re-import writes nothing. Returns (new, changed)."""
        digest = await self._digest()
        wanted = {row["nip"]: _fields(row, opds) for row in rows}
        fresh = [nip for nip in wanted if nip not in digest]
        changed = [nip for nip in wanted if nip in digest and digest[nip][0] != roster_fingerprint(wanted[nip])]
        now = utcnow()
        duplicates: list[str] = []
        for start in range(0, len(fresh), IMPORT_BATCH):
            batch = [{"_id": nip, **wanted[nip], "imported_at": now} for nip in fresh[start : start + IMPORT_BATCH]]
            try:
                await self.asn.insert_many(batch, ordered=False)
            except BulkWriteError as error:  # on the roster but not in the digest (an import cut short): update them
                duplicates += [batch[e["index"]]["_id"] for e in error.details.get("writeErrors", []) if e.get("code") == 11000]
        updates = [UpdateOne({"_id": nip}, {"$set": wanted[nip]}) for nip in changed + duplicates]
        for start in range(0, len(updates), IMPORT_BATCH):
            await self.asn.bulk_write(updates[start : start + IMPORT_BATCH], ordered=False)
        await self._count_moves(digest, wanted, fresh, changed, opds)
        await self._save_digest(digest, {nip: (roster_fingerprint(wanted[nip]), wanted[nip]["opd_id"]) for nip in fresh + changed})
        return len(fresh) - len(duplicates), len(changed) + len(duplicates)

    async def _digest(self) -> dict[str, tuple[str, str]]:
        entries: dict[str, tuple[str, str]] = {}
        for bucket in await self.db["roster_digest"].find({}).to_list():
            entries |= {nip: tuple(value.split(":", 1)) for nip, value in bucket["entries"].items()}
        return entries

    async def _save_digest(self, digest: dict[str, tuple[str, str]], entries: dict[str, tuple[str, str]]) -> None:
        """Whole bucket documents replaced: one write per touched bucket, never one per field."""
        touched = {_bucket(nip) for nip in entries}
        buckets: dict[int, dict[str, str]] = {bucket: {} for bucket in touched}
        for nip, (fingerprint, opd_id) in (digest | entries).items():
            bucket = _bucket(nip)
            if bucket in buckets:
                buckets[bucket][nip] = f"{fingerprint}:{opd_id}"
        for bucket, values in buckets.items():
            await self.db["roster_digest"].replace_one({"_id": bucket}, {"_id": bucket, "entries": values}, upsert=True)

    async def _count_moves(
        self, digest: dict[str, tuple[str, str]], wanted: dict[str, Doc], fresh: list[str], changed: list[str], opds: dict[str, Doc]
    ) -> None:
        """ASN per OPD and per government (the denominators of every share), kept by increments."""
        moves: dict[str, int] = {}
        for nip in fresh:
            moves[wanted[nip]["opd_id"]] = moves.get(wanted[nip]["opd_id"], 0) + 1
        for nip in changed:
            old, new = digest[nip][1], wanted[nip]["opd_id"]
            if old != new:
                moves[old] = moves.get(old, 0) - 1
                moves[new] = moves.get(new, 0) + 1
        governments: dict[str, int] = {}
        for opd_id, count in moves.items():
            await self.opds.update_one({"_id": opd_id}, {"$inc": {"asn_count": count}})
            government = (opds.get(opd_id) or await self.opds.find_one({"_id": opd_id}) or {}).get("government")
            if government:
                governments[government] = governments.get(government, 0) + count
        for government, count in governments.items():
            await self.db["government_counts"].update_one({"_id": government}, {"$inc": {"asn_count": count}}, upsert=True)

    # --- commitments ------------------------------------------------------------------------

    async def commitment_versions(self, session: Session | None = None) -> list[Doc]:
        return await self.commitments.find({}, session=session).sort("effective_month", 1).to_list()

    async def add_commitment(self, version: Doc) -> None:
        try:
            await self.commitments.insert_one(version)
        except DuplicateKeyError:
            raise ApiError(409, f"sudah ada versi komitmen untuk bulan {version['_id']}", field="effective_month") from None

    # --- audit ------------------------------------------------------------------------------

    async def record_export(self, who: str, what: str, filters: Doc, rows: int) -> None:
        await self.exports.insert_one({"who": who, "what": what, "filters": filters, "rows": rows, "at": utcnow()})


def _bucket(nip: str) -> int:
    return zlib.crc32(nip.encode()) % DIGEST_BUCKETS


def _fields(row: Doc, opds: dict[str, Doc]) -> Doc:
    return {
        "name": row["name"],
        "opd_id": row["opd_id"],
        "government": opds[row["opd_id"]]["government"],
        "email": row["email"],
        "phone": row["phone"],
    }


def roster_fingerprint(fields: Doc) -> str:
    return hashlib.blake2b("\x1f".join(str(fields[f]) for f in ROSTER_FIELDS).encode(), digest_size=6).hexdigest()
