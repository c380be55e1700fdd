"""What the PAD levy on a cart would be now: shown at checkout before the shopper pays.

The amount actually recorded is computed again at settlement with the rules in force then;
a quote is information, not a promise (a new rule version may start in between).
"""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from beli_contracts.reference import CATEGORIES, REGENCIES
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest
from payments.domain import levy_for
from payments.levy import select_rule
from payments.rules import LevyRules


class QuoteLine(StrictRequest):
    category: str = Field(max_length=40)
    regency: str = Field(max_length=60, description="The seller's regency")
    amount: int = Field(ge=0, le=50_000_000_000, description="Line gross in Rupiah")


class QuoteIn(StrictRequest):
    lines: list[QuoteLine] = Field(min_length=1, max_length=50)


class QuotedLine(BaseModel):
    levy: int
    rate_bps: int
    rule_id: str


class QuoteOut(BaseModel):
    lines: list[QuotedLine]
    total_levy: int


def build_router(rules: LevyRules) -> APIRouter:
    router = APIRouter(tags=["levy"])

    @router.post("/levy/quote", response_model=QuoteOut, summary="PAD levy the rules in force now put on these lines")
    async def quote(body: QuoteIn) -> QuoteOut:
        for index, line in enumerate(body.lines):
            if line.category not in CATEGORIES:
                raise ApiError(422, f"kategori {line.category!r} tidak dikenal", field=f"lines.{index}.category")
            if line.regency not in REGENCIES:
                raise ApiError(422, f"kabupaten/kota {line.regency!r} tidak dikenal", field=f"lines.{index}.regency")
        now = utcnow()
        versions = await rules.all_versions()
        quoted = []
        for line in body.lines:
            rule = select_rule(versions, line.category, line.regency, now, rules.default)
            quoted.append(QuotedLine(levy=levy_for(line.amount, rule.rate_bps), rate_bps=rule.rate_bps, rule_id=rule.id))
        return QuoteOut(lines=quoted, total_levy=sum(line.levy for line in quoted))

    return router
