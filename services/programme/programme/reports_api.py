"""Compliance (per OPD, per regency/city government, the province), the list of ASN below the
commitment for an OPD, exports with a TOTAL row, and the programme dashboard. Every figure is
read from the read models kept by the events, never by scanning sales at query time."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from beli_runtime.clock import utcnow
from beli_runtime.exports import EXPORT_RESPONSES
from beli_runtime.http import ApiError
from programme import domain, sheets
from programme.access import Office, OfficeOrOpd, check_opd, opd_scope, sees_full_nip
from programme.settings import ProgrammeSettings
from programme.store import Doc, ProgrammeStore
from programme.tallies import Tallies

MonthQuery = Annotated[str | None, Query(pattern=domain.MONTH_PATTERN, description="WITA month YYYY-MM; default this month")]
Format = Annotated[Literal["csv", "xlsx"], Query(alias="format")]


class Compliance(BaseModel):
    key: str
    name: str
    government: str
    asn_count: int
    met: int
    share_bps: int
    share: str
    spent: int


class ComplianceReport(BaseModel):
    month: str
    commitment: int
    rows: list[Compliance]
    total: Compliance


class Below(BaseModel):
    nip: str
    name: str
    linked: bool
    spent: int
    remaining: int


class BelowReport(BaseModel):
    month: str
    opd_id: str
    commitment: int
    items: list[Below]


def row(key: str, name: str, government: str, asn_count: int, met: int, spent: int) -> Compliance:
    bps = domain.share_bps(met, asn_count)
    return Compliance(
        key=key, name=name, government=government, asn_count=asn_count, met=met, share_bps=bps, share=domain.percent_text(bps), spent=spent
    )


def total_of(rows: list[Compliance], name: str = "TOTAL") -> Compliance:
    return row("TOTAL", name, "", sum(r.asn_count for r in rows), sum(r.met for r in rows), sum(r.spent for r in rows))


HEADER = ["Kode", "Nama", "Pemerintah", "Jumlah ASN", "Memenuhi Komitmen", "Persentase", "Total Belanja (Rp)"]


def table(report: ComplianceReport) -> tuple[list[list[Any]], list[Any]]:
    cells = [[r.key, r.name, r.government, r.asn_count, r.met, r.share, r.spent] for r in report.rows]
    t = report.total
    return cells, ["TOTAL", t.name, "", t.asn_count, t.met, t.share, t.spent]


def attachment(body: bytes, file_format: str, name: str) -> Response:
    return Response(
        body, media_type=sheets.media_type(file_format), headers={"Content-Disposition": f'attachment; filename="{name}.{file_format}"'}
    )


def compliance_file(report: ComplianceReport, file_format: str) -> bytes:
    cells, total = table(report)
    if file_format == "csv":
        return sheets.to_csv(HEADER, cells, total)
    return sheets.to_xlsx(f"Kepatuhan {report.month}", HEADER, cells, total)


class ComplianceReports:
    """The compliance figures of a month, read from the read models the events keep."""

    def __init__(self, store: ProgrammeStore, tallies: Tallies) -> None:
        self.store = store
        self.tallies = tallies

    async def by_opd(self, month: str, government: str | None, scope: str | None) -> ComplianceReport:
        store = self.store
        query: Doc = {"government": government} if government else {}
        if scope is not None:
            query = {"_id": scope}
        opds = await store.opds.find(query, {"name": 1, "government": 1, "asn_count": 1}).sort([("government", 1), ("name", 1)]).to_list()
        month_query: Doc = {"month": month} | ({"government": government} if government else {}) | ({"opd_id": scope} if scope else {})
        figures = {doc["opd_id"]: doc for doc in await store.opd_months.find(month_query, {"opd_id": 1, "met": 1, "spent": 1}).to_list()}
        rows = [
            row(
                o["_id"],
                o["name"],
                o["government"],
                o.get("asn_count", 0),
                figures.get(o["_id"], {}).get("met", 0),
                figures.get(o["_id"], {}).get("spent", 0),
            )
            for o in opds
        ]
        return ComplianceReport(month=month, commitment=await self.tallies.commitment(month), rows=rows, total=total_of(rows))

    async def by_government(self, month: str) -> ComplianceReport:
        counts = {doc["_id"]: doc["asn_count"] for doc in await self.store.db["government_counts"].find({}).to_list()}
        figures = {doc["government"]: doc for doc in await self.store.government_months.find({"month": month}).to_list()}
        rows = [
            row(domain.slug(g), g, g, counts.get(g, 0), figures.get(g, {}).get("met", 0), figures.get(g, {}).get("spent", 0))
            for g in domain.GOVERNMENTS
        ]
        return ComplianceReport(
            month=month,
            commitment=await self.tallies.commitment(month),
            rows=rows,
            total=total_of(rows, "Provinsi NTT dan 22 kabupaten/kota"),
        )

    async def below(self, principal: Any, opd_id: str, month: str) -> BelowReport:
        store = self.store
        check_opd(principal, opd_id)
        if await store.opd(opd_id) is None:
            raise ApiError(404, f"tidak ada OPD {opd_id}")
        commitment = await self.tallies.commitment(month)
        spent = {
            d["nip"]: d["spent"] for d in await store.spending.find({"month": month, "opd_id": opd_id}, {"nip": 1, "spent": 1}).to_list()
        }
        full = sees_full_nip(principal)
        items = [
            Below(
                nip=a["_id"] if full else domain.mask_nip(a["_id"]),
                name=a["name"],
                linked=bool(a.get("account_id")),
                spent=spent.get(a["_id"], 0),
                remaining=commitment - spent.get(a["_id"], 0),
            )
            for a in await store.asn.find({"opd_id": opd_id}, {"name": 1, "account_id": 1}).to_list()
            if not domain.met(spent.get(a["_id"], 0), commitment)
        ]
        items.sort(key=lambda item: (item.name, item.nip))
        return BelowReport(month=month, opd_id=opd_id, commitment=commitment, items=items)


def build_reports_router(store: ProgrammeStore, tallies: Tallies, settings: ProgrammeSettings) -> APIRouter:
    router = APIRouter(prefix="/programme", tags=["compliance and dashboard"])
    reports = ComplianceReports(store, tallies)
    _register_compliance(router, reports)
    _register_below(router, reports)
    _register_dashboard(router, store, reports, settings)
    return router


def _register_compliance(router: APIRouter, reports: ComplianceReports) -> None:
    @router.get("/compliance/opds", response_model=ComplianceReport)
    async def compliance_by_opd(principal: OfficeOrOpd, month: MonthQuery = None, government: str | None = None) -> ComplianceReport:
        """Per OPD: ASN count, how many met the commitment, the share, total spent. An OPD officer gets its own OPD only."""
        return await reports.by_opd(month or domain.month_of(utcnow()), government, opd_scope(principal))

    @router.get("/compliance/governments", response_model=ComplianceReport)
    async def compliance_by_government(_: Office, month: MonthQuery = None) -> ComplianceReport:
        """Per government (the province's own OPDs, and each regency/city); TOTAL is the whole of NTT."""
        return await reports.by_government(month or domain.month_of(utcnow()))

    @router.get("/compliance/exports/opds", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_opds(
        principal: OfficeOrOpd, file_format: Format = "csv", month: MonthQuery = None, government: str | None = None
    ) -> Response:
        report = await reports.by_opd(month or domain.month_of(utcnow()), government, opd_scope(principal))
        return attachment(compliance_file(report, file_format), file_format, f"kepatuhan-opd-{report.month}")

    @router.get("/compliance/exports/governments", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_governments(_: Office, file_format: Format = "csv", month: MonthQuery = None) -> Response:
        report = await reports.by_government(month or domain.month_of(utcnow()))
        return attachment(compliance_file(report, file_format), file_format, f"kepatuhan-pemda-{report.month}")


def _register_below(router: APIRouter, reports: ComplianceReports) -> None:
    @router.get("/compliance/opds/{opd_id}/below", response_model=BelowReport)
    async def below_commitment(opd_id: str, principal: OfficeOrOpd, month: MonthQuery = None) -> BelowReport:
        """The OPD's ASN who have not met the month's commitment (an OPD officer: its own OPD only)."""
        return await reports.below(principal, opd_id, month or domain.month_of(utcnow()))

    @router.get("/compliance/opds/{opd_id}/below/export", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_below(opd_id: str, principal: OfficeOrOpd, file_format: Format = "csv", month: MonthQuery = None) -> Response:
        report = await reports.below(principal, opd_id, month or domain.month_of(utcnow()))
        header = ["NIP", "Nama", "Akun Terhubung", "Belanja (Rp)", "Kekurangan (Rp)"]
        cells = [[i.nip, i.name, "ya" if i.linked else "tidak", i.spent, i.remaining] for i in report.items]
        total = ["TOTAL", f"{len(cells)} ASN", "", sum(i.spent for i in report.items), sum(i.remaining for i in report.items)]
        body = (
            sheets.to_csv(header, cells, total) if file_format == "csv" else sheets.to_xlsx(f"Belum {report.month}", header, cells, total)
        )
        return attachment(body, file_format, f"belum-memenuhi-{opd_id}-{report.month}")


def _register_dashboard(router: APIRouter, store: ProgrammeStore, reports: ComplianceReports, settings: ProgrammeSettings) -> None:
    @router.get("/dashboard")
    async def dashboard(_: Office, month: MonthQuery = None) -> dict[str, Any]:
        """The month's GMV against the target, PAD levy, spending by seller regency, OVOP share, active sellers and buyers."""
        month = month or domain.month_of(utcnow())
        figures = await store.months.find_one({"_id": month}) or {}
        gmv = figures.get("gmv", 0)
        by_regency = sorted(((r, a) for r, a in (figures.get("by_regency") or {}).items()), key=lambda item: -item[1])
        province = (await reports.by_government(month)).total
        return {
            "month": month,
            "gmv": gmv,
            "gmv_target": settings.gmv_target,
            "gmv_target_share_bps": domain.share_bps(gmv, settings.gmv_target),
            "pad_levy": figures.get("levy", 0),
            "refunds": figures.get("refunds", 0),
            "paid_orders": figures.get("orders", 0),
            "spending_by_seller_regency": [{"regency": r, "gross": a} for r, a in by_regency],
            "ovop_gross": figures.get("ovop_gross", 0),
            "ovop_share_bps": domain.share_bps(figures.get("ovop_gross", 0), gmv),
            "active_buyers": figures.get("buyers", 0),
            "active_sellers": figures.get("sellers", 0),
            "asn": {"count": province.asn_count, "met": province.met, "share_bps": province.share_bps, "spent": province.spent},
        }
