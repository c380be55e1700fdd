"""Finance office routes (read-only, except closing a month) and the seller's statement."""

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from beli_runtime.auth import Principal
from beli_runtime.exports import EXPORT_RESPONSES, Format, file_response, render
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest
from payments.access import actor, finance_office, statement_reader
from payments.audit import LedgerFilter, LevyAudit
from payments.closing import PeriodClosing
from payments.documents import LevyEntryDocument
from payments.exports import ledger_table, summary_table, wita
from payments.ledger import LevyLedger
from payments.levy import utc_from_day
from payments.reconcile import Reconciler

DAY = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
GroupBy = Literal["day", "month", "regency", "seller", "category", "channel"]
CHANNEL = r"^(online|outlet|outlet:ntt-mart-[a-z0-9-]{2,60})$"


class EntryOut(BaseModel):
    entry_id: str
    sequence: int
    kind: str
    order_id: str
    product_id: str
    variant_id: str | None = None
    product_name: str
    seller_id: str
    seller_name: str
    regency: str
    category: str
    quantity: int
    unit_price: int
    gross: int
    levy: int
    seller_payable: int
    rule_id: str
    rule_version: int
    rate_bps: int
    period: str
    original_period: str | None = None
    reverses: str | None
    refund_id: str | None
    recorded_at: datetime
    recorded_at_wita: str
    prev_hash: str
    hash: str
    channel: str = Field(default="online", description="`online`, or `outlet:<outlet id>` for an in-store sale")


class StatementIn(BaseModel):
    """A statement file from `GET /finance/periods/{period}/statement`; other fields in it are ignored."""

    model_config = ConfigDict(extra="ignore")
    statement: str = Field(max_length=10_000)
    signature: str = Field(max_length=200)


class CloseIn(StrictRequest):
    note: str = Field("", max_length=500)


def entry_out(entry: LevyEntryDocument) -> EntryOut:
    return EntryOut(
        entry_id=entry.id,
        recorded_at_wita=wita(entry.recorded_at) + " WITA",
        **{key: getattr(entry, key) for key in EntryOut.model_fields if key not in ("entry_id", "recorded_at_wita")},
    )


def check_days(date_from: str | None, date_to: str | None) -> None:
    """The pattern lets through 0000-01-01 or 2026-02-31: refuse what is not a real day."""
    for field, day in (("from", date_from), ("to", date_to)):
        if day is not None:
            try:
                utc_from_day(day)
            except (ValueError, OverflowError):
                raise ApiError(422, f"{day} is not a calendar day (YYYY-MM-DD, year 1 or later)", field=field) from None


def ledger_filter(
    date_from: Annotated[str | None, Query(alias="from", pattern=DAY, description="First WITA day, YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(alias="to", pattern=DAY, description="Last WITA day (inclusive)")] = None,
    period: Annotated[str | None, Query(pattern=MONTH, description="Accounting month YYYY-MM")] = None,
    regency: Annotated[str | None, Query(max_length=40)] = None,
    seller: Annotated[str | None, Query(alias="seller_id", max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[Literal["levy", "reversal"] | None, Query()] = None,
    channel: Annotated[
        str | None, Query(pattern=CHANNEL, description="`online`, `outlet` (every NTT Mart outlet) or `outlet:<outlet id>`")
    ] = None,
) -> LedgerFilter:
    check_days(date_from, date_to)
    if date_from and date_to and date_from > date_to:
        raise ApiError(422, f"from ({date_from}) is after to ({date_to})", field="from")
    return LedgerFilter(date_from, date_to, period, regency, seller, category, order_id, kind, channel)


Filter = Annotated[LedgerFilter, Depends(ledger_filter)]


def build_finance_router(audit: LevyAudit, ledger: LevyLedger, reconciler: Reconciler, closing: PeriodClosing) -> APIRouter:
    finance = APIRouter(prefix="/finance", tags=["finance"], dependencies=[Depends(finance_office)])
    _register_ledger(finance, audit)
    _register_checks(finance, ledger, reconciler, closing)
    _register_closing(finance, closing)
    sellers = APIRouter(tags=["sellers"])
    _register_statement(sellers, audit)
    router = APIRouter()
    router.include_router(finance)
    router.include_router(sellers)
    return router


def _register_ledger(finance: APIRouter, audit: LevyAudit) -> None:
    """The levy ledger itself: pages of entries, totals, and both as files."""

    @finance.get("/ledger")
    async def ledger_listing(
        where: Filter,
        after: Annotated[int, Query(ge=0, le=2**62, description="next_cursor of the previous page")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        page, cursor = await audit.listing(where, after, limit)
        return {"items": [entry_out(LevyEntryDocument.from_document(e)) for e in page], "next_cursor": cursor}

    @finance.get("/summary")
    async def summary(where: Filter, group_by: Annotated[GroupBy, Query()] = "regency") -> dict[str, Any]:
        return await audit.summary(group_by, where)

    @finance.get("/exports/ledger", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_ledger(where: Filter, format: Annotated[Format, Query()] = "csv") -> Response:
        entries = [entry async for entry in audit.stream(where)]
        # Rendering a big workbook is CPU work: keep the event loop free for other requests.
        data = await asyncio.to_thread(render, ledger_table(entries), format)
        return file_response(data, "buku-besar-pad", format)

    @finance.get("/exports/summary", response_class=Response, responses=EXPORT_RESPONSES)
    async def export_summary(
        where: Filter, group_by: Annotated[GroupBy, Query()] = "regency", format: Annotated[Format, Query()] = "csv"
    ) -> Response:
        data = await asyncio.to_thread(render, summary_table(await audit.summary(group_by, where)), format)
        return file_response(data, f"ringkasan-pad-{group_by}", format)


def _register_checks(finance: APIRouter, ledger: LevyLedger, reconciler: Reconciler, closing: PeriodClosing) -> None:
    """Whether the ledger still holds: its hash chain, and its sums against Midtrans."""

    @finance.get("/verify")
    async def verify_chain() -> dict[str, Any]:
        """Walk the hash chain from the first entry up to the head read at the start; `first_broken`
        names where it breaks (also: an entry outside the chain, a closing whose signature fails)."""
        return await ledger.verify(closing.signer)

    @finance.get("/checks/gross-identity")
    async def gross_identity(where: Filter) -> dict[str, Any]:
        """Per settled order covered: what Midtrans says was received (status API) = Σ levy + Σ seller payable."""
        return await reconciler.gross_identity(where)

    @finance.get("/reconciliation")
    async def reconciliation(
        date_from: Annotated[str, Query(alias="from", pattern=DAY)], date_to: Annotated[str, Query(alias="to", pattern=DAY)]
    ) -> dict[str, Any]:
        check_days(date_from, date_to)
        if date_from > date_to:
            raise ApiError(422, f"from ({date_from}) is after to ({date_to})", field="from")
        return await reconciler.run(date_from, date_to)


def _register_statement(sellers: APIRouter, audit: LevyAudit) -> None:
    @sellers.get("/sellers/{seller_id}/statement")
    async def statement(
        seller_id: Annotated[str, Path(max_length=64)],
        where: Filter,
        _: Annotated[Principal, Depends(statement_reader)],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> dict[str, Any]:
        """What the seller is owed: per order line gross, PAD levy and payable, and the period's totals."""
        mine = LedgerFilter(**{**where.__dict__, "seller_id": seller_id})
        page, cursor = await audit.listing(mine, after, limit)
        totals = (await audit.summary("seller", mine))["totals"]
        lines = [
            {
                "order_id": e["order_id"],
                "kind": e["kind"],
                "product_id": e["product_id"],
                "product_name": e["product_name"],
                "quantity": e["quantity"],
                "unit_price": e["unit_price"],
                "gross": e["gross"],
                "levy": e["levy"],
                "seller_payable": e["seller_payable"],
                "rate_bps": e["rate_bps"],
                "period": e["period"],
                "recorded_at_wita": wita(e["recorded_at"]) + " WITA",
            }
            for e in page
        ]
        return {"seller_id": seller_id, "lines": lines, "next_cursor": cursor, "totals": totals}


def _register_closing(finance: APIRouter, closing: PeriodClosing) -> None:
    @finance.get("/periods")
    async def closings() -> dict[str, Any]:
        return {"items": [_closing_out(c) for c in await closing.closings()]}

    @finance.post("/periods/{period}/close", status_code=201)
    async def close_period(
        period: Annotated[str, Path(max_length=7)], principal: Annotated[Principal, Depends(finance_office)], body: CloseIn | None = None
    ) -> dict[str, Any]:
        """Close an ended WITA month: stores its totals and the chain head, signs them and publishes
        `payments.ledger_month_closed`; later entries count in the open month."""
        return _closing_out(await closing.close(period, actor(principal), body.note if body else ""))

    @finance.get("/periods/{period}/statement")
    async def period_statement(period: Annotated[str, Path(pattern=MONTH)]) -> Response:
        """The signed statement of a closed month (a JSON file to keep outside Beli NTT)."""
        statement = await closing.statement(period)
        return Response(
            json.dumps(statement, indent=2, ensure_ascii=False).encode(),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="tutup-buku-pad-{period}.json"'},
        )

    @finance.post("/statements/check")
    async def check_statement(body: StatementIn) -> dict[str, Any]:
        """Check a kept statement: our signature, and that today's chain still holds its head."""
        return await closing.check(body.statement, body.signature)

    @finance.get("/signing-key")
    async def signing_key() -> dict[str, str]:
        """The public key that checks closing statements offline (Ed25519, PEM)."""
        if not closing.signer.available:
            raise ApiError(503, "the ledger signing key is not configured (LEDGER_SIGNING_KEY_FILE)")
        return {"algorithm": "Ed25519", "key_id": closing.signer.key_id(), "public_key": closing.signer.public_pem()}


def _closing_out(closing: dict[str, Any]) -> dict[str, Any]:
    return {"period": closing["_id"], **{k: v for k, v in closing.items() if k != "_id"}}
