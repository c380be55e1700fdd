"""The ASN's own routes (claim a NIP, see this month's progress and past months) and the
approval of claims by the OPD officer or the programme office."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from beli_runtime.auth import Principal
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest
from programme import domain
from programme.access import OfficeOrOpd, Shopper, opd_scope, sees_full_nip
from programme.roster import Roster
from programme.store import Doc, ProgrammeStore
from programme.tallies import Tallies

MonthQuery = Annotated[str | None, Query(pattern=domain.MONTH_PATTERN, description="WITA month YYYY-MM; default this month")]


class ClaimIn(StrictRequest):
    nip: str = Field(min_length=18, max_length=24, description="18-digit NIP (spaces allowed)")


class ClaimOut(BaseModel):
    id: str
    status: Literal["pending", "linked", "rejected"]
    nip: str = Field(description="Masked except for the programme office")
    name: str
    opd_id: str
    opd_name: str | None = Field(default=None, description="The OPD's name, for the officer who decides")
    created_at: datetime | None = None


class Refusal(BaseModel):
    nip: str = Field(description="Masked")
    decided_at: datetime | None = None


class Me(BaseModel):
    status: Literal["none", "pending", "linked"]
    nip: str | None = None
    name: str | None = None
    opd_id: str | None = None
    opd_name: str | None = None
    refused: Refusal | None = Field(default=None, description="With status `none`: the latest claim the OPD refused, if any")


class CountedOrder(BaseModel):
    order_id: str
    kind: Literal["paid", "refund"]
    amount: int
    at: datetime


class Progress(BaseModel):
    month: str
    commitment: int
    spent: int
    remaining: int
    met: bool
    orders: list[CountedOrder]


class MonthFigure(BaseModel):
    month: str
    commitment: int
    spent: int
    met: bool


def claim_out(claim: Doc, full_nip: bool, opd_names: dict[str, str] | None = None) -> ClaimOut:
    nip = claim["nip"] if full_nip else domain.mask_nip(claim["nip"])
    return ClaimOut(
        id=claim["_id"],
        status=claim["status"],
        nip=nip,
        name=claim["name"],
        opd_id=claim["opd_id"],
        opd_name=(opd_names or {}).get(claim["opd_id"]),
        created_at=claim.get("created_at"),
    )


async def opd_names(store: ProgrammeStore, claims: list[Doc]) -> dict[str, str]:
    ids = sorted({claim["opd_id"] for claim in claims})
    return {opd["_id"]: opd["name"] async for opd in store.opds.find({"_id": {"$in": ids}}, {"name": 1})}


def build_router(store: ProgrammeStore, roster: Roster, tallies: Tallies) -> APIRouter:
    router = APIRouter(prefix="/programme", tags=["ASN"])
    _register_account(router, store, roster)
    _register_spending(router, store, tallies)
    _register_claims(router, store, roster)
    return router


def _register_account(router: APIRouter, store: ProgrammeStore, roster: Roster) -> None:
    @router.post("/me/nip", status_code=201, response_model=ClaimOut)
    async def claim_nip(body: ClaimIn, principal: Shopper) -> ClaimOut:
        """Linked at once when the roster's e-mail or phone is this account's; else pending the OPD's approval."""
        return claim_out(await roster.claim(principal, body.nip), full_nip=False)

    @router.get("/me", response_model=Me)
    async def me(principal: Shopper) -> Me:
        link = await store.links.find_one({"_id": principal.account_id})
        if link is None:
            pending = await store.claims.find_one({"account_id": principal.account_id, "status": "pending"})
            if pending is None:
                # The shopper learns that the OPD refused, not only that nothing is linked.
                refused = await store.claims.find_one({"account_id": principal.account_id, "status": "rejected"}, sort=[("created_at", -1)])
                if refused is None:
                    return Me(status="none")
                return Me(status="none", refused=Refusal(nip=domain.mask_nip(refused["nip"]), decided_at=refused.get("decided_at")))
            return Me(status="pending", nip=domain.mask_nip(pending["nip"]), name=pending["name"], opd_id=pending["opd_id"])
        asn = await store.asn.find_one({"_id": link["nip"]}) or {}
        opd = await store.opd(asn.get("opd_id", "")) or {}
        return Me(
            status="linked", nip=domain.mask_nip(link["nip"]), name=asn.get("name"), opd_id=asn.get("opd_id"), opd_name=opd.get("name")
        )


def _register_spending(router: APIRouter, store: ProgrammeStore, tallies: Tallies) -> None:
    @router.get("/me/progress", response_model=Progress)
    async def progress(principal: Shopper, month: MonthQuery = None) -> Progress:
        """Counted spending of the month: PAID orders by WITA month of settlement, minus refunds in the month refunded."""
        month = month or domain.month_of(utcnow())
        if await store.links.find_one({"_id": principal.account_id}) is None:
            raise ApiError(404, "akun ini belum terhubung dengan NIP: klaim NIP Anda dulu")
        commitment = await tallies.commitment(month)
        doc = await store.spending.find_one({"_id": f"{principal.account_id}:{month}"}) or {"spent": 0, "orders": []}
        spent = doc["spent"]
        return Progress(
            month=month,
            commitment=commitment,
            spent=spent,
            remaining=max(0, commitment - spent),
            met=domain.met(spent, commitment),
            orders=[CountedOrder(**entry) for entry in doc["orders"]],
        )

    @router.get("/me/months", response_model=list[MonthFigure])
    async def past_months(principal: Shopper, limit: Annotated[int, Query(ge=1, le=36)] = 12) -> list[MonthFigure]:
        """The months with counted spending, newest first."""
        docs = await store.spending.find({"account_id": principal.account_id}).sort("month", -1).limit(limit).to_list()
        versions = await store.commitment_versions()
        figures = []
        for doc in docs:
            commitment = domain.commitment_for(versions, doc["month"], tallies.default_commitment)
            figures.append(
                MonthFigure(month=doc["month"], commitment=commitment, spent=doc["spent"], met=domain.met(doc["spent"], commitment))
            )
        return figures


def _register_claims(router: APIRouter, store: ProgrammeStore, roster: Roster) -> None:
    @router.get("/claims", response_model=list[ClaimOut], tags=["claims"])
    async def claims(
        principal: OfficeOrOpd,
        status: Literal["pending", "linked", "rejected"] = "pending",
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> list[ClaimOut]:
        """NIP claims waiting for approval: an OPD officer sees only its own OPD's."""
        query: Doc = {"status": status}
        scope = opd_scope(principal)
        if scope is not None:
            query["opd_id"] = scope
        docs = await store.claims.find(query).sort("created_at", 1).limit(limit).to_list()
        names = await opd_names(store, docs)
        return [claim_out(doc, sees_full_nip(principal), names) for doc in docs]

    async def decided(claim_id: str, approve: bool, principal: Principal) -> ClaimOut:
        claim = await roster.decide(claim_id, approve, principal, opd_scope(principal))
        return claim_out(claim, sees_full_nip(principal), await opd_names(store, [claim]))

    @router.post("/claims/{claim_id}/approve", response_model=ClaimOut, tags=["claims"])
    async def approve(claim_id: str, principal: OfficeOrOpd) -> ClaimOut:
        return await decided(claim_id, True, principal)

    @router.post("/claims/{claim_id}/reject", response_model=ClaimOut, tags=["claims"])
    async def reject(claim_id: str, principal: OfficeOrOpd) -> ClaimOut:
        return await decided(claim_id, False, principal)
