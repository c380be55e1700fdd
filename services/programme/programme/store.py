"""The programme's own database: OPDs, the ASN roster, NIP links and claims, commitment versions,
export audit, and the read models built from sales events (see tallies.py)."""

from typing import Any

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, Session, ensure_index

Doc = dict[str, Any]
IMPORT_BATCH = 2000


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
        await ensure_index(self.asn, "account_id")
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
        """Insert new ASN, update known ones (matched by NIP); never a duplicate. Returns (new, changed)."""
        created = changed = 0
        now = utcnow()
        for start in range(0, len(rows), IMPORT_BATCH):
            operations = []
            for row in rows[start : start + IMPORT_BATCH]:
                fields = {
                    "name": row["name"],
                    "opd_id": row["opd_id"],
                    "government": opds[row["opd_id"]]["government"],
                    "email": row["email"],
                    "phone": row["phone"],
                }
                operations.append(UpdateOne({"_id": row["nip"]}, {"$set": fields, "$setOnInsert": {"imported_at": now}}, upsert=True))
            result = await self.asn.bulk_write(operations, ordered=False)
            created += result.upserted_count
            changed += result.modified_count
        return created, changed

    async def recount_opds(self) -> None:
        """ASN per OPD, after an import (the denominator of every compliance share)."""
        counts = {
            row["_id"]: row["count"] async for row in await self.asn.aggregate([{"$group": {"_id": "$opd_id", "count": {"$sum": 1}}}])
        }
        opds = await self.opds.find({}, {"government": 1}).to_list()
        operations = [UpdateOne({"_id": opd["_id"]}, {"$set": {"asn_count": counts.get(opd["_id"], 0)}}) for opd in opds]
        if operations:
            await self.opds.bulk_write(operations, ordered=False)
        # Per government too, so that the province's figures never read every OPD at query time.
        governments: dict[str, int] = {}
        for opd in opds:
            governments[opd["government"]] = governments.get(opd["government"], 0) + counts.get(opd["_id"], 0)
        for government, count in governments.items():
            await self.db["government_counts"].update_one({"_id": government}, {"$set": {"asn_count": count}}, upsert=True)

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
