"""The programme office's routes: OPDs, the ASN roster (imports, listing, audited exports),
commitment versions and the reminder run."""

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, Field

from beli_runtime.clock import utcnow
from beli_runtime.exports import EXPORT_RESPONSES
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest as Strict
from programme import domain, sheets
from programme.access import Office, OfficeOrOpd, actor, check_opd, opd_scope, sees_full_nip
from programme.reminders import Reminders
from programme.roster import Roster
from programme.store import Doc, ProgrammeStore
from programme.tallies import Tallies

Government = Literal[domain.GOVERNMENTS]  # type: ignore[valid-type]


class OpdIn(Strict):
    id: str | None = Field(default=None, pattern=domain.OPD_ID_PATTERN, description="Code; default made from government and name")
    name: str = Field(min_length=3, max_length=160)
    government: Government = Field(description="`Provinsi NTT` or one of the 22 regencies/cities")


class OpdChange(Strict):
    name: str | None = Field(default=None, min_length=3, max_length=160)
    active: bool | None = None


class OpdOut(BaseModel):
    id: str
    name: str
    government: str
    active: bool
    asn_count: int


class AsnOut(BaseModel):
    nip: str = Field(description="Masked except for the programme office")
    name: str
    opd_id: str
    government: str
    linked: bool


class CommitmentIn(Strict):
    amount: int = Field(ge=1_000, le=100_000_000, description="Rupiah per ASN and month")
    effective_month: str = Field(pattern=domain.MONTH_PATTERN, description="First WITA month it applies to; not a past month")
    reason: str = Field(min_length=3, max_length=300)


class CommitmentOut(BaseModel):
    effective_month: str
    amount: int
    reason: str
    created_by: str
    created_at: datetime


def opd_out(doc: Doc) -> OpdOut:
    return OpdOut(
        id=doc["_id"], name=doc["name"], government=doc["government"], active=doc.get("active", True), asn_count=doc.get("asn_count", 0)
    )


async def read_upload(file: UploadFile) -> tuple[bytes, str]:
    content = await file.read()
    if not content:
        raise ApiError(422, "berkas kosong", field="file")
    return content, file.filename or "upload.csv"


def build_office_router(store: ProgrammeStore, roster: Roster, tallies: Tallies, reminders: Reminders) -> APIRouter:
    router = APIRouter(prefix="/programme", tags=["programme office"])
    _register_opds(router, store, roster)
    _register_roster(router, store, roster)
    _register_roster_exports(router, store)
    _register_commitments(router, store, tallies, reminders)
    return router


def _register_opds(router: APIRouter, store: ProgrammeStore, roster: Roster) -> None:
    @router.get("/opds", response_model=list[OpdOut])
    async def list_opds(principal: OfficeOrOpd, government: Government | None = None) -> list[OpdOut]:
        query: Doc = {"government": government} if government else {}
        scope = opd_scope(principal)
        if scope is not None:
            query["_id"] = scope
        return [opd_out(doc) for doc in await store.opds.find(query).sort([("government", 1), ("name", 1)]).to_list()]

    @router.post("/opds", status_code=201, response_model=OpdOut)
    async def create_opd(body: OpdIn, _: Office) -> OpdOut:
        opd_id = body.id or domain.slug(f"{body.government} {body.name}")[:64]
        return opd_out(await store.add_opd({"_id": opd_id, "name": body.name, "government": body.government}))

    @router.patch("/opds/{opd_id}", response_model=OpdOut)
    async def change_opd(opd_id: str, body: OpdChange, _: Office) -> OpdOut:
        """Rename or deactivate (an OPD is never deleted: past months keep their figures)."""
        changes = body.model_dump(exclude_none=True)
        if not changes:
            raise ApiError(422, "tidak ada perubahan")
        doc = await store.opds.find_one_and_update({"_id": opd_id}, {"$set": changes}, return_document=True)
        if doc is None:
            raise ApiError(404, f"tidak ada OPD {opd_id}")
        return opd_out(doc)

    @router.post("/opds/import")
    async def import_opds(
        _: Office, file: Annotated[UploadFile, File(description="CSV or XLSX: kode, nama, pemerintah")]
    ) -> dict[str, Any]:
        content, name = await read_upload(file)
        return await roster.import_opds(sheets.read_table(content, name, domain.OPD_COLUMNS))


def _register_roster(router: APIRouter, store: ProgrammeStore, roster: Roster) -> None:
    @router.post("/roster/import")
    async def import_roster(
        _: Office, file: Annotated[UploadFile, File(description="CSV or XLSX: nip, nama, opd, email, telepon")]
    ) -> dict[str, Any]:
        """Idempotent: a NIP already on the roster is updated, never duplicated. Rejected rows come back with the reason."""
        if not file.size and not await file.read(1):
            raise ApiError(422, "berkas kosong", field="file")
        # Read from the upload's spooled (on-disk) file as it is imported, never whole in memory.
        name = file.filename or "upload.csv"
        table = await asyncio.to_thread(sheets.TableFile, file.file, name, domain.ROSTER_COLUMNS)
        return await roster.import_asn(table)

    @router.get("/roster", response_model=list[AsnOut])
    async def list_roster(
        principal: OfficeOrOpd,
        opd_id: Annotated[str | None, Query(max_length=64)] = None,
        after: Annotated[str, Query(max_length=24, description="Cursor: the last NIP of the previous page (office only)")] = "",
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> list[AsnOut]:
        scope = opd_scope(principal)
        if scope is not None:
            check_opd(principal, opd_id or scope)
            opd_id = scope
        query: Doc = {"opd_id": opd_id} if opd_id else {}
        if after:
            query["_id"] = {"$gt": after}
        docs = await store.asn.find(query).sort("_id", 1).limit(limit).to_list()
        full = sees_full_nip(principal)
        return [
            AsnOut(
                nip=doc["_id"] if full else domain.mask_nip(doc["_id"]),
                name=doc["name"],
                opd_id=doc["opd_id"],
                government=doc["government"],
                linked=bool(doc.get("account_id")),
            )
            for doc in docs
        ]


def _register_roster_exports(router: APIRouter, store: ProgrammeStore) -> None:
    @router.get("/roster/export", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_roster(
        principal: Office,
        file_format: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
        opd_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        """The roster with full NIPs: recorded (who, when, which filter) in the export audit."""
        query: Doc = {"opd_id": opd_id} if opd_id else {}
        docs = await store.asn.find(query).sort("_id", 1).to_list()
        full = sees_full_nip(principal)
        rows = [
            [
                d["_id"] if full else domain.mask_nip(d["_id"]),
                d["name"],
                d["opd_id"],
                d["government"],
                d.get("email", ""),
                d.get("phone", ""),
            ]
            for d in docs
        ]
        header = ["NIP", "Nama", "Kode OPD", "Pemerintah", "Email", "Telepon"]
        await store.record_export(actor(principal), "roster", {"opd_id": opd_id, "format": file_format}, len(rows))
        body = sheets.to_csv(header, rows, None) if file_format == "csv" else sheets.to_xlsx("Data ASN", header, rows, None)
        return Response(
            body,
            media_type=sheets.media_type(file_format),
            headers={"Content-Disposition": f'attachment; filename="data-asn.{file_format}"'},
        )

    @router.get("/roster/exports")
    async def export_audit(_: Office, limit: Annotated[int, Query(ge=1, le=100)] = 50) -> list[dict[str, Any]]:
        """Every roster export: who, when, with which filter, how many rows."""
        docs = await store.exports.find({}).sort("at", -1).limit(limit).to_list()
        return [{"who": d["who"], "what": d["what"], "filters": d["filters"], "rows": d["rows"], "at": d["at"]} for d in docs]


def _register_commitments(router: APIRouter, store: ProgrammeStore, tallies: Tallies, reminders: Reminders) -> None:
    @router.get("/commitments", response_model=list[CommitmentOut])
    async def commitments(_: OfficeOrOpd) -> list[CommitmentOut]:
        """Every version; a month is judged by the version with the latest effective month not after it."""
        return [CommitmentOut(**asdict(version)) for version in await store.commitment_versions()]

    @router.post("/commitments", status_code=201, response_model=CommitmentOut)
    async def new_commitment(body: CommitmentIn, principal: Office) -> CommitmentOut:
        """A new version from its effective month on (never a past month: those are judged already)."""
        if body.effective_month < domain.month_of(utcnow()):
            raise ApiError(422, "bulan berlaku tidak boleh bulan yang sudah lewat", field="effective_month")
        version = domain.CommitmentVersion(body.effective_month, body.amount, body.reason, actor(principal), utcnow())
        await store.add_commitment(version)
        await tallies.recount_met(body.effective_month)
        return CommitmentOut(**asdict(version))

    @router.post("/reminders/run")
    async def run_reminders(_: Office, month: Annotated[str | None, Query(pattern=domain.MONTH_PATTERN)] = None) -> dict[str, Any]:
        """Remind now every ASN below the month's commitment who has not been reminded this month."""
        month = month or domain.month_of(utcnow())
        return {"month": month, "sent": await reminders.run(month)}
