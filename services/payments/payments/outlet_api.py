"""Payments at an NTT Mart outlet's till: cash taken by the staff (recorded with who took it and
settled at once, levied like any sale), and the outlet's daily cash report (sales, levy, cash to
deposit) as a CSV/XLSX download through the one export helper."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from beli_runtime.auth import Principal, Role, current_principal
from beli_runtime.clock import utcnow
from beli_runtime.exports import EXPORT_RESPONSES, Format, Table, file_response, render
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest as Strict
from payments.cash_refunds import CashRefunds
from payments.documents import PaymentDocument
from payments.domain import PaymentStatus, late_reason
from payments.exports import wita
from payments.jobs import PaymentJobs
from payments.levy import day_of, utc_from_day
from payments.store import PaymentsStore

DAY = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
SETTLED = [PaymentStatus.SETTLED.value, PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.REFUNDED.value]


class CashIn(Strict):
    received: int = Field(gt=0, le=1_000_000_000, description="Rupiah the buyer handed over (at least the total)")


class CashOut(BaseModel):
    order_id: str
    status: PaymentStatus
    gross_amount: int
    received: int
    change: int = Field(description="Rupiah to hand back")
    taken_by: str = Field(description="The staff account that took the cash")
    levy_amount: int | None


async def till_staff(principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path(max_length=80)) -> Principal:
    if principal.role is Role.OUTLET and principal.outlet_id == outlet_id:
        return principal
    if principal.role is Role.OUTLET:
        raise ApiError(404, f"outlet {outlet_id} tidak ditemukan")
    raise ApiError(403, "hanya staf outlet ini")


async def report_reader(principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path(max_length=80)) -> Principal:
    """The outlet's own staff, the finance office and operators."""
    return principal if principal.role in (Role.FINANCE, Role.ADMIN) else await till_staff(principal, outlet_id)


class CashRefundIn(Strict):
    paid_back: int = Field(gt=0, le=1_000_000_000, description="Rupiah handed back to the buyer: the whole sale")
    reason: str = Field(default="barang dikembalikan di kasir", min_length=3, max_length=200)


class CashRefundOut(BaseModel):
    order_id: str
    refund_key: str
    status: str = Field(description="DONE once the levy is reversed")
    amount: int
    paid_back: int
    paid_by: str = Field(description="The staff account that handed the cash back")
    at: datetime


def till_sale(payment: PaymentDocument | None, outlet_id: str, order_id: str) -> PaymentDocument:
    if payment is None or payment.outlet_id != outlet_id or payment.payment_method != "cash":
        raise ApiError(404, f"penjualan tunai {order_id} tidak ditemukan di outlet ini")
    return payment


def build_router(store: PaymentsStore, jobs: PaymentJobs, cash_refunds: CashRefunds) -> APIRouter:
    router = APIRouter(tags=["outlets"])
    _register_cash_refund(router, store, cash_refunds)

    @router.post(
        "/outlets/{outlet_id}/payments/{order_id}/cash",
        response_model=CashOut,
        responses={404: {"description": "Not a cash sale of this outlet"}, 409: {"description": "Not payable (cancelled or expired)"}},
    )
    async def take_cash(outlet_id: str, order_id: str, body: CashIn, staff: Annotated[Principal, Depends(till_staff)]) -> CashOut:
        """The staff took the buyer's cash: the sale is paid and levied now. Repeating it answers the same."""
        payment = till_sale(await store.get(order_id), outlet_id, order_id)
        if payment.status == PaymentStatus.AWAITING.value and not payment.cash:
            if body.received < payment.gross_amount:
                raise ApiError(422, f"uang diterima kurang dari total Rp{payment.gross_amount}", field="received")
            if late_reason(payment):
                raise ApiError(409, "penjualan ini sudah dibatalkan; jangan terima uangnya")
            cash = {
                "taken_by": staff.account_id,
                "received": body.received,
                "change": body.received - payment.gross_amount,
                "at": utcnow(),
            }
            await store.payments.update_one({"_id": order_id, "cash": None}, {"$set": {"cash": cash}})
            status = {"transaction_status": "settlement", "payment_type": "cash", "transaction_id": f"tunai-{order_id}"}
            await jobs.settle_at_till(payment, status)
            payment = await store.get(order_id) or payment
        if payment.status not in SETTLED or not payment.cash:
            raise ApiError(409, f"penjualan {order_id} berstatus {payment.status} dan tidak bisa dibayar lagi")
        return CashOut(
            order_id=order_id,
            status=PaymentStatus(payment.status),
            gross_amount=payment.gross_amount,
            received=payment.cash.received,
            change=payment.cash.change,
            taken_by=payment.cash.taken_by,
            levy_amount=payment.levy_amount,
        )

    @router.get("/outlets/{outlet_id}/cash-report", responses=EXPORT_RESPONSES, response_class=Response)
    async def cash_report(
        outlet_id: str,
        _: Annotated[Principal, Depends(report_reader)],
        day: Annotated[str | None, Query(pattern=DAY, description="WITA calendar day, default today")] = None,
        format: Annotated[Format, Query()] = "csv",
    ) -> Response:
        """The day's paid sales at the outlet, their levy, and the cash the staff must deposit."""
        day = day or day_of(utcnow())
        try:
            start, end = utc_from_day(day), utc_from_day(day) + timedelta(days=1)
        except (ValueError, OverflowError):  # the pattern lets through 2026-02-31 and 9999-12-31
            raise ApiError(422, f"{day} bukan tanggal kalender (YYYY-MM-DD)", field="day") from None
        found = store.payments.find({"outlet_id": outlet_id, "settled_at": {"$gte": start, "$lt": end}})
        payments = [p async for p in found.sort("settled_at", 1) if p["status"] in SETTLED]
        table = cash_table(outlet_id, day, payments, await cash_refunds.paid_back_between(outlet_id, start, end))
        return file_response(render(table, format), f"kas-{outlet_id}-{day}", format)

    return router


def _register_cash_refund(router: APIRouter, store: PaymentsStore, cash_refunds: CashRefunds) -> None:
    @router.post(
        "/outlets/{outlet_id}/payments/{order_id}/cash-refund",
        response_model=CashRefundOut,
        responses={
            404: {"description": "Not a cash sale of this outlet"},
            409: {"description": "Not paid, or already refunded otherwise"},
            422: {"description": "Not the whole sale"},
        },
    )
    async def refund_cash(
        outlet_id: str, order_id: str, body: CashRefundIn, staff: Annotated[Principal, Depends(till_staff)]
    ) -> CashRefundOut:
        """The buyer returned a paid cash sale at the till and the staff handed the cash back:
        recorded with who paid it back; the levy is reversed on the refund path and the sale shows
        refunded. Repeating it answers the same refund."""
        payment = till_sale(await store.get(order_id), outlet_id, order_id)
        refund = await cash_refunds.pay_back(payment, staff.account_id, body.paid_back, body.reason)
        cash_back = refund["cash_back"]
        return CashRefundOut(
            order_id=order_id,
            refund_key=refund["_id"],
            status=refund["status"],
            amount=refund["amount"],
            paid_back=cash_back["paid_back"],
            paid_by=cash_back["paid_by"],
            at=cash_back["at"],
        )


CASH_HEADER = (
    "Waktu (WITA)",
    "Nomor Pesanan",
    "Cara Bayar",
    "Penjualan (Rp)",
    "Kontribusi PAD (Rp)",
    "Hak Penjual (Rp)",
    "Tunai Disetor (Rp)",
    "Diterima Oleh",
)


def cash_table(outlet_id: str, day: str, payments: list[dict[str, Any]], paid_back: list[dict[str, Any]] | None = None) -> Table:
    """One row per paid sale, and one (negative) per cash sale returned that day; the TOTAL row
    says the day's net sales, levy and the cash to deposit."""
    rows = []
    for payment in payments:
        gross, levy = payment["gross_amount"], payment.get("levy_amount") or 0
        cash = payment.get("cash") or {}
        rows.append(
            [
                wita(payment["settled_at"]),
                payment["_id"],
                "tunai" if payment.get("payment_method") == "cash" else "QRIS",
                gross,
                levy,
                gross - levy,
                gross if cash else 0,
                cash.get("taken_by", ""),
            ]
        )
    sold = len(rows)
    for refund in paid_back or []:
        cash_back = refund["cash_back"]
        rows.append(
            [
                wita(cash_back["at"]),
                refund["order_id"],
                "pengembalian tunai",
                -refund["amount"],
                -refund["levy"],
                -(refund["amount"] - refund["levy"]),
                -cash_back["paid_back"],
                cash_back["paid_by"],
            ]
        )
    total = (
        ["TOTAL", f"{sold} penjualan, {len(rows) - sold} pengembalian" if len(rows) > sold else f"{sold} penjualan", ""]
        + [sum(row[i] for row in rows) for i in range(3, 7)]
        + [""]
    )
    return Table(f"Kas {outlet_id} {day}", CASH_HEADER, rows, total)
