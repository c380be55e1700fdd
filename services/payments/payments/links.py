"""Recording the Snap transactions Midtrans opened: each payment still OPENING moves to AWAITING
with its link, and its `payment_link_created` is written, in one transaction. Links opened together
are recorded together (group_commit.py): one write of their moves, one write of their events,
instead of a transaction per link, each taking its turn under the job's lease with its own fence
(issue 11). The payments are not read again: the job read them to open their links, what the event
says of them (customer, lines, amount, deadline) never changes, and each move is guarded by the
status OPENING. A batch in which a payment left OPENING meanwhile (a cancellation) is written
again one link at a time, so that only that one is left out."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beli_contracts import EventPayload
from beli_contracts.payments import PaymentLinkCreated
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import BatchConflict
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from payments.documents import PaymentDocument
from payments.domain import PaymentStatus
from payments.store import PaymentsStore


@dataclass(frozen=True)
class OpenedLink:
    """Midtrans's answer for a payment: its Snap token and link (or QRIS string)."""

    payment: PaymentDocument  # as the job read it, OPENING
    answer: dict[str, Any]
    trace: dict[str, str] | None  # the "open payment link" span its event continues

    @property
    def order_id(self) -> str:
        return self.payment.id


class LinkRecords:
    def __init__(self, runtime: ServiceRuntime, store: PaymentsStore) -> None:
        self.runtime = runtime
        self.store = store

    async def record(self, opened: Sequence[OpenedLink]) -> list[bool]:
        """Record a batch in one transaction; for each, whether its link was recorded now (False:
        the payment left OPENING meanwhile, or the batch names it twice)."""
        try:
            return await self.runtime.write(lambda session: self._record(session, opened))
        except BatchConflict:
            return [await self._record_alone(item) for item in opened]

    async def _record_alone(self, item: OpenedLink) -> bool:
        (recorded,) = await self.runtime.write(lambda session: self._record(session, [item]))
        return recorded

    async def _record(self, session: Session, opened: Sequence[OpenedLink]) -> list[bool]:
        moves: list[tuple[str, str, dict[str, Any]]] = []
        events: list[tuple[EventPayload, str, dict[str, str] | None]] = []
        recorded: list[bool] = []
        for item in opened:
            if item.order_id in {order_id for order_id, _, _ in moves} or item.payment.status != PaymentStatus.OPENING.value:
                recorded.append(False)  # a payment twice in a batch is recorded once
                continue
            moves.append((item.order_id, PaymentStatus.OPENING.value, _link_fields(item.answer)))
            events.append((_link_created(item.payment, item.answer), item.order_id, item.trace))
            recorded.append(True)
        if moves:
            moved = await self.store.move_read(session, moves, PaymentStatus.AWAITING)
            if moved != len(moves):
                if len(opened) > 1:
                    raise BatchConflict("a payment of the batch left OPENING after the job read it")
                return [False]  # this one did: nothing was written
            await self.runtime.outbox.add_each(session, events)
        return recorded


def _link_fields(answer: dict[str, Any]) -> dict[str, Any]:
    return {"token": answer["token"], "redirect_url": answer["redirect_url"], "qr_string": answer.get("qr_string"), "opened_at": utcnow()}


def _link_created(payment: PaymentDocument, answer: dict[str, Any]) -> PaymentLinkCreated:
    return PaymentLinkCreated(
        order_id=payment.id,
        customer=payment.customer,
        lines=payment.lines,
        gross_amount=payment.gross_amount,
        token=answer["token"],
        redirect_url=answer["redirect_url"],
        pay_before=payment.pay_before,
        qr_string=answer.get("qr_string"),
    )
