"""Operator routes: levy rules (versioned, never edited) and refunds through Midtrans."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from beli_contracts.payments import LevyRuleTerms
from beli_runtime.auth import Principal
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest, Timestamp
from payments.access import actor, operator_only
from payments.documents import LevyRuleDocument, RefundDocument
from payments.late import LatePayments
from payments.refunds import Refunds
from payments.rules import LevyRules

REFUND_KEY = r"^[A-Za-z0-9\-_~.]{1,50}$"


class RuleIn(StrictRequest):
    rate_bps: int = Field(description="Levy rate in basis points: 100 = 1%, 0..10000")
    category: str | None = Field(None, min_length=1, max_length=40, description="Product category scope, e.g. `kopi`")
    regency: str | None = Field(None, min_length=1, max_length=40, description="Seller's regency scope, e.g. `Ngada`")
    effective_from: Timestamp | None = Field(None, description="When the version takes effect (default: now); never in the past")
    reason: str = Field(min_length=3, max_length=500)


class RuleOut(LevyRuleTerms):
    """A rule version as the API shows it: the terms every consumer of the levy stream sees, and who changed it why."""

    reason: str
    changed_by: str
    created_at: datetime


class RefundLineIn(StrictRequest):
    product_id: str = Field(min_length=1, max_length=64)
    variant_id: str | None = Field(None, max_length=64, description="For a product sold in variants: which one")
    quantity: int = Field(gt=0)


class RefundIn(StrictRequest):
    refund_key: str | None = Field(
        None,
        pattern=REFUND_KEY,
        description="Idempotency: the same key never refunds twice. Default: one is made, so a retry without a key is a new refund",
    )
    amount: int | None = Field(None, gt=0, description="Integer Rupiah; must equal the refunded lines' gross")
    lines: list[RefundLineIn] | None = Field(None, min_length=1, description="Omit to refund everything still refundable")
    reason: str = Field(min_length=3, max_length=255)


class RefundOut(BaseModel):
    refund_key: str
    order_id: str
    amount: int
    lines: list[dict[str, Any]]
    reason: str
    status: str
    source: str


def _rule_out(rule: LevyRuleDocument) -> RuleOut:
    return RuleOut(**{key: getattr(rule, key) for key in RuleOut.model_fields})


def _refund_out(refund: RefundDocument) -> RefundOut:
    return RefundOut(
        refund_key=refund.id,
        order_id=refund.order_id,
        amount=refund.amount,
        lines=[line.to_document() for line in refund.lines],  # as recorded
        reason=refund.reason,
        status=refund.status,
        source=refund.source,
    )


def build_admin_router(rules: LevyRules, refunds: Refunds, late: LatePayments) -> APIRouter:
    router = APIRouter()
    _register_rules(router, rules)
    _register_refunds(router, refunds, late)
    return router


def _register_rules(router: APIRouter, rules: LevyRules) -> None:
    @router.post("/admin/levy-rules", status_code=201, response_model=RuleOut, tags=["levy rules"])
    async def create_rule(body: RuleIn, principal: Annotated[Principal, Depends(operator_only)]) -> RuleOut:
        """A new rule, or a new version of the rule with the same scope. Versions are never
        edited; history is `GET /admin/levy-rules`."""
        doc = await rules.create(
            rate_bps=body.rate_bps,
            category=body.category,
            regency=body.regency,
            effective_from=body.effective_from,
            reason=body.reason,
            changed_by=actor(principal),
        )
        return _rule_out(doc)

    @router.get("/admin/levy-rules", tags=["levy rules"])
    async def rule_history(_: Annotated[Principal, Depends(operator_only)]) -> dict[str, Any]:
        return {"default_rate_bps": rules.default.rate_bps, "items": [_rule_out(doc) for doc in await rules.history()]}

    @router.get("/admin/levy-rules/{rule_id}", tags=["levy rules"])
    async def one_rule(rule_id: Annotated[str, Path(max_length=100)], _: Annotated[Principal, Depends(operator_only)]) -> dict[str, Any]:
        versions = await rules.history(rule_id)
        if not versions:
            raise ApiError(404, f"no levy rule {rule_id}")
        return {"rule_id": rule_id, "versions": [_rule_out(doc) for doc in versions]}


def _register_refunds(router: APIRouter, refunds: Refunds, late: LatePayments) -> None:
    @router.post("/payments/{order_id}/refunds", status_code=201, response_model=RefundOut, tags=["refunds"])
    async def refund(
        order_id: Annotated[str, Path(max_length=64)], body: RefundIn, _: Annotated[Principal, Depends(operator_only)]
    ) -> RefundOut:
        """Refund through Midtrans; the levy of the refunded lines is reversed in the ledger."""
        key = body.refund_key or f"rf-{uuid.uuid4().hex[:20]}"
        lines = [line.model_dump() for line in body.lines] if body.lines is not None else None
        return _refund_out(await refunds.request(order_id, key, body.amount, lines, body.reason))

    @router.get("/payments/{order_id}/refunds", tags=["refunds"])
    async def refunds_of(order_id: Annotated[str, Path(max_length=64)], _: Annotated[Principal, Depends(operator_only)]) -> dict[str, Any]:
        return {"items": [_refund_out(doc) for doc in await refunds.for_order(order_id)]}

    @router.get("/admin/late-payments", tags=["refunds"])
    async def late_payments(
        _: Annotated[Principal, Depends(operator_only)],
        state: Annotated[Literal["returning", "returned", "needs_operator"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> dict[str, Any]:
        """Money that arrived for orders that could no longer be paid, and where its return stands.
        `needs_operator`: Midtrans refused the refund; return the money another way, or retry with
        `POST /payments/{order_id}/refunds` (the payment is marked returned once fully refunded)."""
        return {"items": await late.listing(state, limit)}
