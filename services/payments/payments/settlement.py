"""Settling confirmed payments: each payment moves to SETTLED, its levy is booked in the ledger and
its events are written, all in one transaction. Payments confirmed together settle together: one
ledger append (one claim of the ledger's head, one insert of every entry) and one write of every
event for the whole batch, instead of one transaction per payment each taking its turn on the head
(issue 11). What each payment gets is what it got alone: levied once (the entries' ids are per
order line), late money booked and returned, stale confirmations change nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beli_contracts import EventPayload
from beli_contracts.payments import LevyRecorded, PaymentSettled
from beli_contracts.values import SettledLine
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import BatchConflict
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from payments.documents import LevyEntryDocument, PaymentDocument
from payments.domain import PaymentStatus, late_reason, settle_lines
from payments.late import LatePayments
from payments.ledger import LevyLedger, Settlement, as_event_entry
from payments.levy import to_millis
from payments.rules import LevyRules
from payments.store import PaymentsStore

log = get_logger(__name__)
LATE = "late payment, returning: "


@dataclass(frozen=True)
class Confirmed:
    """A payment Midtrans (or an outlet's till) says is paid."""

    order_id: str
    status: dict[str, Any]  # Midtrans's status answer, or the till's equivalent
    sources: frozenset[PaymentStatus]  # the states it may settle from (FAILED too, as a late payment)
    gross: int | None = None  # Midtrans's gross amount, checked against ours; None at the till
    notifications: tuple[str, ...] = ()  # the Midtrans notifications it answers: marked done with the outcome, once settled
    trace: dict[str, str] | None = None  # the trace its events continue


@dataclass
class _Plan:
    confirmed: Confirmed
    payment: PaymentDocument
    lines: list[SettledLine]
    late: str | None

    @property
    def levy_total(self) -> int:
        return sum(line.levy for line in self.lines)


class Settlements:
    def __init__(self, runtime: ServiceRuntime, store: PaymentsStore, ledger: LevyLedger, rules: LevyRules, late: LatePayments) -> None:
        self.runtime = runtime
        self.store = store
        self.ledger = ledger
        self.rules = rules
        self.late = late
        self.late_booked: Callable[[], None] = lambda: None  # wakes the job that sends late payments back

    async def settle(self, batch: Sequence[Confirmed]) -> list[str]:
        """Settle a batch in one transaction; what was done for each, in the batch's order."""
        # Every sale is levied by the rules in force at this moment, whatever changes later.
        settled_at = to_millis(utcnow())
        outcomes = await self.runtime.write(lambda session: self._settle(session, batch, settled_at))
        if any(outcome.startswith(LATE) for outcome in outcomes):
            self.late_booked()
        # After the commit, not inside the transaction: a notification left unmarked by a crash is
        # only checked again (and found settled), while one written by a transaction the crash left
        # open stays locked until the database reaps it, and the webhook's writes wait for it.
        await self.store.notifications_done(
            {key: outcome for item, outcome in zip(batch, outcomes, strict=True) for key in item.notifications}
        )
        return outcomes

    async def _settle(self, session: Session, batch: Sequence[Confirmed], settled_at: datetime) -> list[str]:
        found = await self.store.get_many(session, [item.order_id for item in batch])
        outcomes: dict[str, str] = {}
        accepted: list[tuple[Confirmed, PaymentDocument]] = []
        for item in batch:
            payment = found.pop(item.order_id, None)  # popped: an order twice in a batch settles once
            refusal = _refusal(item, payment)
            if refusal is not None or payment is None:
                outcomes.setdefault(item.order_id, refusal or "stale: settled earlier in this batch")
                continue
            accepted.append((item, payment))
        if accepted:
            # The head first: it orders this append, and says whether the rules changed (rules.py).
            head = await self.ledger.claim_head(session)
            rule_for = await self.rules.selector(settled_at, head.rules_version, session)
            # A FAILED payment is always late (late_reason), so settling from FAILED too is exactly
            # "the sources, or FAILED when late"; decided from the payment as this transaction read it.
            plans = [_Plan(item, payment, settle_lines(payment.lines, rule_for), late_reason(payment)) for item, payment in accepted]
            await self._move(session, plans, settled_at)
            settlements = [_settlement(plan, rule_for) for plan in plans]
            entries = await self.ledger.record_settlements(session, settlements, settled_at, head)
            events: list[tuple[EventPayload, str, dict[str, str] | None]] = []
            for plan in plans:
                outcomes[plan.payment.id] = await self._announce(session, plan, entries[plan.payment.id], settled_at, events)
            await self.runtime.outbox.add_each(session, events)
        return [outcomes[item.order_id] for item in batch]

    async def _move(self, session: Session, plans: list[_Plan], settled_at: datetime) -> None:
        moves = [
            (
                plan.payment.id,
                plan.payment.status,
                {
                    "midtrans_status": plan.confirmed.status["transaction_status"],
                    "payment_type": plan.confirmed.status.get("payment_type"),
                    "transaction_id": plan.confirmed.status.get("transaction_id"),
                    "levy_amount": plan.levy_total,
                    "settled_at": settled_at,
                },
            )
            for plan in plans
        ]
        if await self.store.move_read(session, moves, PaymentStatus.SETTLED) != len(moves):
            raise BatchConflict("a payment of the batch changed after it was read")

    async def _announce(
        self,
        session: Session,
        plan: _Plan,
        entries: list[LevyEntryDocument],
        settled_at: datetime,
        events: list[tuple[EventPayload, str, dict[str, str] | None]],
    ) -> str:
        payment, trace = plan.payment, plan.confirmed.trace or plan.payment.trace
        events.append((LevyRecorded(order_id=payment.id, entries=[as_event_entry(e) for e in entries]), payment.id, trace))
        if plan.late:
            # Booked, then returned in full: no payment_settled, so nobody is told to ship.
            await self.late.begin(session, payment.id, plan.late)
            return f"{LATE}{plan.late}"
        status = plan.confirmed.status
        settled = PaymentSettled(
            order_id=payment.id,
            customer=payment.customer,
            lines=plan.lines,
            gross_amount=payment.gross_amount,
            levy_total=plan.levy_total,
            seller_payable_total=sum(line.seller_payable for line in plan.lines),
            payment_type=str(status.get("payment_type", "")),
            transaction_id=str(status.get("transaction_id", "")),
            settled_at=settled_at,
            channel=payment.channel,
        )
        events.append((settled, payment.id, trace))
        return f"settled: levy {plan.levy_total}"


def _refusal(item: Confirmed, payment: PaymentDocument | None) -> str | None:
    """Why this confirmation settles nothing (None: it settles)."""
    if payment is None:
        return "ignored: not a Beli NTT payment"
    if item.gross is not None and item.gross != payment.gross_amount:
        log.error("payments.amount_mismatch", order_id=item.order_id, midtrans=item.gross, ours=payment.gross_amount)
        return f"refused: Midtrans gross {item.gross} differs from {payment.gross_amount}"
    if payment.status not in {state.value for state in item.sources | {PaymentStatus.FAILED}}:
        return f"stale: {item.status['transaction_status']} while {payment.status}"
    return None


def _settlement(plan: _Plan, rule_for: Any) -> Settlement:
    rates = {line.product_id: rule_for(line).rate_bps for line in plan.payment.lines}
    return Settlement(plan.payment.id, plan.lines, rates, plan.payment.channel)
