"""Refunds through Midtrans and the levy reversals they cause.

A refund is first recorded as REQUESTED (reserving its quantities, so two concurrent refunds
cannot both take the last unit), then sent to Midtrans with its refund_key, then completed:
reversal entries appended to the ledger, the payment moved, LevyReversed in the outbox, all in
one transaction. Both the API call and Midtrans's refund notification complete a refund by its
key, and only a REQUESTED refund can be completed, so nothing is reversed twice.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from beli_contracts.payments import LevyReversed, PaymentReturned
from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from beli_runtime.leases import LeaseLost, ensure_held
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS, Database, Session, ensure_index
from beli_runtime.retry import Backoff
from beli_runtime.service import ServiceRuntime
from payments.documents import LatePayment, LevyEntryDocument, PaymentDocument, RefundDocument
from payments.domain import PaymentStatus, rupiah_from_midtrans
from payments.gateway import MidtransGateway, MidtransRefused, MidtransUnavailable
from payments.ledger import LevyLedger, as_event_entry
from payments.levy import reversed_share
from payments.store import PaymentsStore

log = get_logger(__name__)
REFUNDABLE = frozenset({PaymentStatus.SETTLED, PaymentStatus.PARTIALLY_REFUNDED})
ACTIVE = ("REQUESTED", "DONE")
# A lost lease or an unreachable database stops the whole step, not one item.
NOT_THE_ITEMS_FAULT: tuple[type[Exception], ...] = (LeaseLost, *UNAVAILABLE_ERRORS)


def not_the_items_fault(error: Exception) -> bool:
    return isinstance(error, NOT_THE_ITEMS_FAULT)


def _fingerprint(order_id: str, amount: int | None, lines: list[dict[str, Any]] | None, reason: str) -> str:
    body = json.dumps({"order_id": order_id, "amount": amount, "lines": lines, "reason": reason}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


class Refunds:
    def __init__(
        self,
        runtime: ServiceRuntime,
        db: Database,
        store: PaymentsStore,
        ledger: LevyLedger,
        gateway: MidtransGateway,
        retry_seconds: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.retry_seconds = retry_seconds
        self.refunds = db["refunds"]
        self.store = store
        self.ledger = ledger
        self.gateway = gateway

    async def ensure_indexes(self) -> None:
        await ensure_index(self.refunds, [("order_id", 1), ("status", 1)])
        await ensure_index(self.refunds, [("status", 1), ("retry_at", 1)])

    async def for_order(self, order_id: str) -> list[RefundDocument]:
        found = await self.refunds.find({"order_id": order_id}).sort("created_at", 1).to_list()
        return [RefundDocument.from_document(refund) for refund in found]

    async def get(self, refund_key: str, session: Session | None = None) -> RefundDocument | None:
        return RefundDocument.maybe(await self.refunds.find_one({"_id": refund_key}, session=session))

    # --- the operator's refund ---------------------------------------------------------------

    async def request(
        self, order_id: str, refund_key: str, amount: int | None, lines: list[dict[str, Any]] | None, reason: str
    ) -> RefundDocument:
        fingerprint = _fingerprint(order_id, amount, lines, reason)
        refund = await self.runtime.write(lambda session: self._reserve(session, order_id, refund_key, amount, lines, reason, fingerprint))
        if refund.status == "REQUESTED":
            try:
                await self.gateway.refund(order_id, refund_key, refund.amount, reason)
            except MidtransRefused as error:
                await self.refunds.update_one(
                    {"_id": refund_key, "status": "REQUESTED"}, {"$set": {"status": "FAILED", "error": str(error), "updated_at": utcnow()}}
                )
                raise Refused(409 if error.status == 412 else 422, f"Midtrans refused the refund: {error}") from None
            except MidtransUnavailable as error:
                raise Refused(
                    503, f"Midtrans is unavailable ({error}); the refund stays requested: retry with the same refund_key {refund_key}"
                ) from None
            await self.complete(refund_key)
        return await self.get(refund_key) or refund

    async def retry_requested(self) -> bool:
        """Refunds left REQUESTED because Midtrans was unavailable are sent again with the same
        refund_key (Midtrans dedupes by it), with a growing pause between tries."""
        return await self.send_due("api", self.fail)

    async def fail(self, refund: RefundDocument, error: MidtransRefused) -> None:
        """Midtrans refused it: not retried blindly (what then happens depends on where it came from)."""
        await self.refunds.update_one(
            {"_id": refund.id, "status": "REQUESTED"}, {"$set": {"status": "FAILED", "error": str(error), "updated_at": utcnow()}}
        )

    async def send_due(self, source: str, on_refused: Callable[[RefundDocument, MidtransRefused], Awaitable[None]]) -> bool:
        """Send the due REQUESTED refunds of one source to Midtrans and complete those it accepts.
        Each refund is handled on its own: one that fails (Midtrans down, or anything unexpected)
        is tried again later with backoff and never holds back the others."""
        now = utcnow()
        query = {"status": "REQUESTED", "source": source, "retry_at": {"$lte": now}}
        due = [RefundDocument.from_document(refund) for refund in await self.refunds.find(query).limit(20).to_list()]
        for refund in due:
            ensure_held()  # another instance took the job over: leave the refunds to it
            try:
                await self.gateway.refund(refund.order_id, refund.id, refund.amount, refund.reason)
            except MidtransRefused as error:
                log.error("payments.refund_refused", order_id=refund.order_id, refund_key=refund.id, error=str(error))
                await on_refused(refund, error)
                continue
            except MidtransUnavailable as error:
                await self._later(refund, str(error))
                continue
            try:
                await self.complete(refund.id)
            except NOT_THE_ITEMS_FAULT:
                raise
            except Exception as error:
                log.exception("payments.refund_completion_crashed", order_id=refund.order_id, refund_key=refund.id)
                await self._later(refund, f"unexpected: {error!r}"[:300])
        return bool(due)

    async def _later(self, refund: RefundDocument, error: str) -> None:
        tries = refund.tries + 1
        retry_at = Backoff(self.retry_seconds, 3600).next_attempt_at(tries + 1, utcnow())
        await self.refunds.update_one({"_id": refund.id}, {"$set": {"tries": tries, "error": error, "retry_at": retry_at}})

    async def _reserve(
        self,
        session: Session,
        order_id: str,
        refund_key: str,
        amount: int | None,
        lines: list[dict[str, Any]] | None,
        reason: str,
        fingerprint: str,
    ) -> RefundDocument:
        existing = await self.get(refund_key, session)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise Refused(409, f"refund_key {refund_key} was already used for a different refund", "refund_key")
            return existing  # a retry: same answer, and a REQUESTED one is sent again (Midtrans dedupes by key)
        payment = await self.store.get(order_id, session)
        if payment is None:
            raise Refused(404, f"no payment for order {order_id}")
        if PaymentStatus(payment.status) not in REFUNDABLE:
            raise Refused(
                409, f"payment {order_id} is {payment.status}: only settled payments can be refunded (unpaid ones are cancelled instead)"
            )
        # Touching the payment makes concurrent refunds of one order conflict and retry in turn.
        await self.store.payments.update_one({"_id": order_id}, {"$inc": {"refund_requests": 1}}, session=session)
        remaining = await self._remaining(session, order_id)
        chosen = _choose_lines(remaining, amount, lines)
        # If the call to Midtrans below does not get through, the retry job sends it again from then on.
        retry_at = utcnow() + timedelta(seconds=self.retry_seconds)
        refund = _requested(order_id, refund_key, remaining, chosen, reason, "api", retry_at).model_copy(
            update={"fingerprint": fingerprint}
        )
        await self.refunds.insert_one(refund.to_document(), session=session)
        return refund

    async def reserve_all(
        self, session: Session, order_id: str, refund_key: str, reason: str, source: str, only: list[dict[str, Any]] | None = None
    ) -> RefundDocument | None:
        """A refund of everything still refundable (a late payment), or of the `only` lines as far
        as they still are (a parcel returned uncollected), recorded for a job to send. None when
        nothing of it is left to refund (e.g. an operator refunded those lines already)."""
        remaining = await self._remaining(session, order_id)
        wanted = None if only is None else {line_key(line): line["quantity"] for line in only}
        chosen = {k: r["quantity"] if wanted is None else min(r["quantity"], wanted.get(k, 0)) for k, r in remaining.items()}
        chosen = {k: quantity for k, quantity in chosen.items() if quantity > 0}
        if only is not None and not chosen:
            return None
        await self.store.payments.update_one({"_id": order_id}, {"$inc": {"refund_requests": 1}}, session=session)
        refund = _requested(order_id, refund_key, remaining, chosen, reason, source, utcnow())
        await self.refunds.insert_one(refund.to_document(), session=session)
        return refund

    async def _remaining(self, session: Session | None, order_id: str) -> dict[str, dict[str, Any]]:
        """Per order line (product, and variant if any): what was recorded, minus what active refunds already take."""
        remaining: dict[str, dict[str, Any]] = {
            entry_key(e): {"product_id": e.product_id, "variant_id": e.variant_id, "quantity": e.quantity, "unit_price": e.unit_price}
            for e in await self.ledger.for_order(order_id, session)
            if e.kind == "levy"
        }
        for refund in await self.refunds.find({"order_id": order_id, "status": {"$in": list(ACTIVE)}}, session=session).to_list():
            for line in RefundDocument.from_document(refund).lines:
                remaining[_key(line.product_id, line.variant_id)]["quantity"] -= line.quantity
        return remaining

    # --- completing, from either path ---------------------------------------------------------

    async def complete(self, refund_key: str) -> bool:
        async def work(session: Session) -> bool:
            refund = RefundDocument.maybe(
                await self.refunds.find_one_and_update(
                    {"_id": refund_key, "status": "REQUESTED"}, {"$set": {"status": "DONE", "updated_at": utcnow()}}, session=session
                )
            )
            if refund is None:
                return False  # already completed (by the other path) or failed
            order_id = refund.order_id
            entries = await self.ledger.for_order(order_id, session)
            drafts = reversal_drafts(entries, refund)
            stored = [LevyEntryDocument.from_document(entry) for entry in await self.ledger.append(session, drafts, utcnow())]
            fully = all(line["quantity"] == 0 for line in (await self._remaining(session, order_id)).values())
            target = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
            payment = await self.store.move(session, order_id, target, REFUNDABLE)
            await self.runtime.outbox.add(
                session,
                LevyReversed(order_id=order_id, refund_amount=refund.amount, entries=[as_event_entry(e) for e in stored]),
                key=order_id,
            )
            if fully and payment is not None and payment.late_payment is not None:
                await self._returned(session, payment, payment.late_payment, refund)
            return True

        return await self.runtime.write(work)

    async def _returned(self, session: Session, payment: PaymentDocument, late: LatePayment, refund: RefundDocument) -> None:
        """A late payment is back with the shopper: say so (the shopper is told by notifications)."""
        now = utcnow()
        await self.store.set_fields(payment.id, {"late_payment.state": "returned", "late_payment.returned_at": now}, session=session)
        await self.runtime.outbox.add(
            session,
            PaymentReturned(
                order_id=payment.id,
                customer=payment.customer,
                gross_amount=payment.gross_amount,
                refund_key=refund.id,
                reason=late.reason,
                returned_at=now,
            ),
            key=payment.id,
        )

    async def on_midtrans_refunds(self, order_id: str, status: dict[str, Any]) -> str:
        """Midtrans says the transaction was (partly) refunded: complete ours, adopt unknown ones."""
        done = []
        refunds = status.get("refunds") or []
        for position, refund in enumerate(refunds):
            key = str(refund.get("refund_key") or f"midtrans-{refund.get('refund_chargeback_id')}")
            ours = await self.get(key)
            if ours is None:
                ours = await self._adopt(
                    order_id, key, refund, last_of_full=status.get("transaction_status") == "refund" and position == len(refunds) - 1
                )
            if ours.status == "REQUESTED" and await self.complete(key):
                done.append(key)
        return f"refunds completed: {', '.join(done) or 'none new'}"

    async def _adopt(self, order_id: str, key: str, refund: dict[str, Any], *, last_of_full: bool) -> RefundDocument:
        """A refund made outside Beli NTT (the Midtrans dashboard). The last refund of a full
        refund takes every remaining line; a partial one names no lines, so it is kept as
        UNMATCHED, reverses nothing, and shows up in reconciliation for a person to settle."""
        amount = rupiah_from_midtrans(refund.get("refund_amount", "0"))

        async def work(session: Session) -> RefundDocument:
            existing = await self.get(key, session)
            if existing is not None:
                return existing
            await self.store.payments.update_one({"_id": order_id}, {"$inc": {"refund_requests": 1}}, session=session)
            remaining = await self._remaining(session, order_id)
            lines = [_line(r, r["quantity"]) for r in remaining.values() if r["quantity"] > 0] if last_of_full else []
            adopted = RefundDocument.model_validate(
                {
                    "_id": key,
                    "order_id": order_id,
                    "amount": amount,
                    "lines": lines,
                    "reason": str(refund.get("reason", "")),
                    "status": "REQUESTED" if lines else "UNMATCHED",
                    "source": "midtrans",
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
            )
            await self.refunds.insert_one(adopted.to_document(), session=session)
            return adopted

        adopted: RefundDocument = await self.runtime.write(work)
        if adopted.status == "UNMATCHED":
            log.warning("payments.unmatched_refund", order_id=order_id, refund_key=key, amount=amount)
        return adopted


def _requested(
    order_id: str,
    refund_key: str,
    remaining: dict[str, dict[str, Any]],
    chosen: dict[str, int],
    reason: str,
    source: str,
    retry_at: datetime,
) -> RefundDocument:
    """A refund of the chosen quantities, recorded before Midtrans hears of it (reserving them)."""
    now = utcnow()
    return RefundDocument.model_validate(
        {
            "_id": refund_key,
            "order_id": order_id,
            "amount": sum(q * remaining[k]["unit_price"] for k, q in chosen.items()),
            "lines": [_line(remaining[k], q) for k, q in chosen.items()],
            "reason": reason,
            "status": "REQUESTED",
            "source": source,
            "created_at": now,
            "updated_at": now,
            "retry_at": retry_at,
        }
    )


def line_key(line: dict[str, Any]) -> str:
    """An order line is a product, or one variant of it: two variants are two lines."""
    return _key(line["product_id"], line.get("variant_id"))


def entry_key(entry: LevyEntryDocument) -> str:
    """The order line a ledger entry books."""
    return _key(entry.product_id, entry.variant_id)


def _key(product_id: str, variant_id: str | None) -> str:
    return f"{product_id}/{variant_id}" if variant_id else product_id


def _line(remaining: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {"product_id": remaining["product_id"], "variant_id": remaining["variant_id"], "quantity": quantity}


def _choose_lines(remaining: dict[str, dict[str, Any]], amount: int | None, lines: list[dict[str, Any]] | None) -> dict[str, int]:
    """Line key -> units to refund."""
    if lines is None:
        chosen = {k: r["quantity"] for k, r in remaining.items() if r["quantity"] > 0}
        if not chosen:
            raise Refused(409, "everything in this payment has already been refunded")
        total = sum(q * remaining[k]["unit_price"] for k, q in chosen.items())
        if amount is not None and amount != total:
            raise Refused(422, f"amount {amount} is not the remaining {total}: a partial refund must name its lines", "amount")
        return chosen
    chosen = {}
    for index, line in enumerate(lines):
        key, quantity = line_key(line), line["quantity"]
        if key not in remaining:
            raise Refused(
                422, f"product {key} is not in this order (name the variant_id of a product sold in variants)", f"lines.{index}.product_id"
            )
        if key in chosen:
            raise Refused(422, f"product {key} is named twice", f"lines.{index}.product_id")
        if quantity > remaining[key]["quantity"]:
            raise Refused(422, f"only {remaining[key]['quantity']} unit(s) of {key} can still be refunded", f"lines.{index}.quantity")
        chosen[key] = quantity
    total = sum(q * remaining[k]["unit_price"] for k, q in chosen.items())
    if amount is not None and amount != total:
        raise Refused(422, f"amount {amount} differs from the refunded lines' gross {total}", "amount")
    return chosen


def reversal_drafts(entries: list[LevyEntryDocument], refund: RefundDocument) -> list[dict[str, Any]]:
    """Reversal entries for a refund's lines, negative amounts, proportional to quantity."""
    originals = {entry_key(e): e for e in entries if e.kind == "levy"}
    drafts = []
    for line in refund.lines:
        original = originals[_key(line.product_id, line.variant_id)]
        before = -sum(e.quantity for e in entries if e.kind == "reversal" and e.reverses == original.id)
        after = before + line.quantity
        levy = reversed_share(original.levy, original.quantity, after) - reversed_share(original.levy, original.quantity, before)
        gross = original.unit_price * line.quantity
        drafts.append(
            {
                "_id": f"{original.id.removesuffix(':levy')}:reversal:{refund.id}",
                **{
                    key: getattr(original, key)
                    for key in (
                        "kind",
                        "order_id",
                        "product_id",
                        "product_name",
                        "seller_id",
                        "seller_name",
                        "regency",
                        "category",
                        "unit_price",
                        "rule_id",
                        "rule_version",
                        "rate_bps",
                    )
                },
                "variant_id": original.variant_id,
                "kind": "reversal",
                "quantity": -line.quantity,
                "gross": -gross,
                "levy": -levy,
                "seller_payable": -(gross - levy),
                "reverses": original.id,
                "refund_id": refund.id,
                # Only an outlet's entry stores its channel (online entries keep the fields, and hashes, they always had).
                **({"channel": original.channel} if "channel" in original.model_fields_set and original.channel else {}),
            }
        )
    return drafts
