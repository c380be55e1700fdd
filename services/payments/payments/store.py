"""Payments persistence: one payment per order, and every Midtrans notification received."""

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne

from beli_contracts.orders import PaymentRequested
from beli_contracts.outlets import outlet_of_channel
from beli_runtime import tracing
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from payments.documents import MidtransNotification, PaymentDocument
from payments.domain import PaymentStatus

# What a job step takes at once. A step that took fewer has left nothing due: it returns False and
# waits for the wake-up of new work (or its polling), instead of a look that finds nothing (issue 11).
PAYMENTS_AT_ONCE = 20
NOTIFICATIONS_AT_ONCE = 50


class PaymentsStore:
    def __init__(self, db: Database) -> None:
        self.payments = db["payments"]
        self.notifications = db["midtrans_notifications"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.payments, [("status", 1), ("next_attempt_at", 1)])
        await ensure_index(self.payments, [("cancel_requested", 1), ("status", 1)])
        await ensure_index(self.notifications, [("processed", 1), ("next_attempt_at", 1)])
        await ensure_index(self.payments, [("outlet_id", 1), ("settled_at", 1)], sparse=True)  # outlets' daily cash reports

    async def open(self, session: Session, event: PaymentRequested) -> bool:
        """Record the intent to open a Midtrans transaction; False if the order already has one
        (an upsert that inserts only when missing: one round trip, no look-up first)."""
        opened = await self.payments.bulk_write([self.opening(event)], session=session)
        return opened.upserted_count > 0

    async def open_all(self, session: Session, openings: list[UpdateOne]) -> None:
        """Several `opening`s in one round trip (a transaction's payment requests, handlers.py)."""
        if openings:
            await self.payments.bulk_write(openings, ordered=True, session=session)

    def opening(self, event: PaymentRequested) -> UpdateOne:
        """The write that records a payment request: the payment, inserted only if missing. Built
        where the event is handled: the payment keeps the order's trace, current there."""
        now = utcnow()
        # Cash is taken at the till: nothing to open at Midtrans, the payment waits for the staff.
        status = PaymentStatus.AWAITING if event.payment_method == "cash" else PaymentStatus.OPENING
        payment = PaymentDocument.model_validate(
            {
                "_id": event.order_id,
                "status": status.value,
                "channel": event.channel,
                "outlet_id": outlet_of_channel(event.channel),
                "payment_method": event.payment_method,
                "gross_amount": event.gross_amount,
                "customer": event.customer.model_dump(),
                "lines": [line.model_dump() for line in event.lines],
                "pay_before": event.pay_before,
                "token": None,
                "redirect_url": None,
                "levy_amount": None,
                "attempts": 0,
                "next_attempt_at": now,
                "cancel_requested": False,
                "created_at": now,
                "updated_at": now,
                "history": [{"status": status.value, "at": now}],
                # The order's trace, resumed by the jobs that call Midtrans for this payment.
                **({"trace": trace} if (trace := tracing.carrier()) else {}),
            }
        )
        document = payment.to_document()
        del document["_id"]
        return UpdateOne({"_id": event.order_id}, {"$setOnInsert": document}, upsert=True)

    async def trace_of(self, order_id: str) -> dict[str, str] | None:
        """The order's trace stored with its payment (asked only while tracing is on)."""
        payment = await self.payments.find_one({"_id": order_id}, {"trace": 1})
        return (payment or {}).get("trace")

    async def get(self, order_id: str, session: Session | None = None) -> PaymentDocument | None:
        return PaymentDocument.maybe(await self.payments.find_one({"_id": order_id}, session=session))

    async def get_many(self, session: Session, order_ids: list[str]) -> dict[str, PaymentDocument]:
        found = await self.payments.find({"_id": {"$in": order_ids}}, session=session).to_list()
        return {doc["_id"]: PaymentDocument.from_document(doc) for doc in found}

    async def due_to_open(self, now: datetime, limit: int = PAYMENTS_AT_ONCE) -> list[PaymentDocument]:
        query = {"status": PaymentStatus.OPENING.value, "next_attempt_at": {"$lte": now}}
        return [
            PaymentDocument.from_document(doc) for doc in await self.payments.find(query).sort("next_attempt_at", 1).limit(limit).to_list()
        ]

    async def cancellations_due(self, limit: int = PAYMENTS_AT_ONCE) -> list[PaymentDocument]:
        query = {"cancel_requested": True, "status": PaymentStatus.AWAITING.value, "next_attempt_at": {"$lte": utcnow()}}
        return [PaymentDocument.from_document(doc) for doc in await self.payments.find(query).limit(limit).to_list()]

    async def move(
        self,
        session: Session | None,
        order_id: str,
        target: PaymentStatus,
        from_states: frozenset[PaymentStatus],
        changes: dict[str, Any] | None = None,
        *,
        before: bool = False,
    ) -> PaymentDocument | None:
        """The payment as moved (or as it was just before, with `before`); None if it was in none of `from_states`."""
        now = utcnow()
        moved = await self.payments.find_one_and_update(
            {"_id": order_id, "status": {"$in": [state.value for state in from_states]}},
            {
                "$set": {"status": target.value, "updated_at": now, **(changes or {})},
                "$push": {"history": {"status": target.value, "at": now}},
            },
            return_document=ReturnDocument.BEFORE if before else ReturnDocument.AFTER,
            session=session,
        )
        return PaymentDocument.maybe(moved)

    async def move_read(self, session: Session, moves: list[tuple[str, str, dict[str, Any]]], target: PaymentStatus) -> int:
        """`move` for payments read already (in this transaction, or by the job acting on them), in
        one round trip: each (order id, status as read, changes) moves only from the status it was
        read in. Returns how many moved: nothing needs a `findAndModify` to hand them back."""
        if not moves:
            return 0
        now = utcnow()
        result = await self.payments.bulk_write(
            [
                UpdateOne(
                    {"_id": order_id, "status": status},
                    {
                        "$set": {"status": target.value, "updated_at": now, **changes},
                        "$push": {"history": {"status": target.value, "at": now}},
                    },
                )
                for order_id, status, changes in moves
            ],
            ordered=True,
            session=session,
        )
        return result.matched_count

    async def set_fields(self, order_id: str, changes: dict[str, Any], session: Session | None = None) -> None:
        await self.payments.update_one({"_id": order_id}, {"$set": {**changes, "updated_at": utcnow()}}, session=session)

    async def retry_later(self, order_id: str, attempts: int, delay: timedelta, error: str) -> None:
        await self.set_fields(order_id, {"attempts": attempts, "next_attempt_at": utcnow() + delay, "last_error": error})

    # --- notifications ----------------------------------------------------------------------

    async def notifications_due(self, limit: int = NOTIFICATIONS_AT_ONCE) -> list[MidtransNotification]:
        query = {"processed": False, "next_attempt_at": {"$lte": utcnow()}}
        found = await self.notifications.find(query).sort("received_at", 1).limit(limit).to_list()
        return [MidtransNotification.from_document(doc) for doc in found]

    async def notifications_done(self, outcomes: dict[str, str]) -> None:
        """Mark notifications (by id) answered, each with its outcome, in one round trip."""
        if not outcomes:
            return
        now = utcnow()
        await self.notifications.bulk_write(
            [
                UpdateOne({"_id": key, "processed": False}, {"$set": {"processed": True, "outcome": outcome, "processed_at": now}})
                for key, outcome in outcomes.items()
            ],
            ordered=False,
        )

    async def notification_retry(self, order_id: str, attempts: int, delay: timedelta, error: str) -> None:
        await self.notifications.update_many(
            {"order_id": order_id, "processed": False},
            {"$set": {"attempts": attempts, "next_attempt_at": utcnow() + delay, "last_error": error}},
        )
