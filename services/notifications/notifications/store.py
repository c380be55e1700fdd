"""Notifications persistence.

- `messages`: the in-app inbox, one document per (event, kind, recipient).
- `deliveries`: one document per (event, kind, recipient, channel) for e-mail/WhatsApp/SMS. It is
  the intent to send, written with the consumer's inbox entry in one transaction; the channel's
  job claims it (status `sending`, `claimed_until`), sends, then marks it `sent`. A crash between
  the two leaves a claim that expires and is retried with the same provider idempotency key.
  `due_at` is set only while a delivery still has to go out (pending: when to try; sending: when
  its claim expires), so finding the due ones is one range query over a small index.

Round trips (issue 11): an event's messages and deliveries are written with one bulk write each,
a batch of due deliveries is claimed with one, and marks of sends that finish together share one.
- `preferences`: per recipient, which channels for which kind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from notifications.domain import Channel

# pending -> sending -> sent | pending (retry) | failed; rejected/skipped never go out.
DUE_STATUSES = ("pending", "sending")
KEEP_ERRORS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def message_id(event_id: str, kind: str, recipient: str) -> str:
    return f"{event_id}:{kind}:{recipient}"


def delivery_id(message: str, channel: str) -> str:
    return f"{message}:{channel}"


@dataclass(frozen=True)
class Delivery:
    """One message to one address over one channel, as the sending jobs and the transports see
    it (the stored document has more: errors, timestamps, the order it is about)."""

    id: str  # also the provider's idempotency key: a retried send is the same message
    channel: str
    status: str
    attempts: int
    address: str
    text: str
    subject: str | None = None
    html: str | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Delivery:
        # A due delivery always has its address and text; were one missing, the transport's
        # refusal records it on that delivery instead of stopping the channel's whole batch.
        return cls(
            id=doc["_id"],
            channel=doc["channel"],
            status=doc["status"],
            attempts=doc["attempts"],
            address=doc.get("address") or "",
            text=doc.get("text") or "",
            subject=doc.get("subject"),
            html=doc.get("html"),
        )


class NotificationsStore:
    def __init__(self, db: Database) -> None:
        self.messages = db["messages"]
        self.deliveries = db["deliveries"]
        self.preferences = db["preferences"]
        # What accounts proved (from catalog.account_verified), keyed by e-mail: who is staff.
        self.accounts = db["accounts"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.messages, [("recipient", 1), ("created_at", -1)])
        await ensure_index(self.messages, [("phone", 1), ("created_at", -1)])
        await ensure_index(self.messages, [("recipient", 1), ("read", 1)])
        await ensure_index(self.deliveries, [("channel", 1), ("status", 1), ("next_attempt_at", 1)])
        await ensure_index(self.deliveries, [("due_at", 1)])
        await ensure_index(self.deliveries, [("status", 1), ("created_at", -1)])
        await ensure_index(self.deliveries, [("order_id", 1)])
        await ensure_index(self.deliveries, [("recipient", 1), ("created_at", -1)])

    # --- written by the consumer, inside its transaction -----------------------------------

    async def add_messages(self, session: Session, docs: list[dict[str, Any]]) -> None:
        # $setOnInsert rather than insert: a duplicate-key error would abort the whole transaction.
        if docs:
            await self.messages.bulk_write([_insert_once(doc) for doc in docs], session=session)

    async def add_deliveries(self, session: Session, docs: list[dict[str, Any]]) -> None:
        now = utcnow()
        defaults = {
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "last_error": None,
            "errors": [],
            "provider_id": None,
            "created_at": now,
            "sent_at": None,
        }
        complete = [defaults | ({"due_at": now} if doc["status"] == "pending" else {}) | doc for doc in docs]
        if complete:
            await self.deliveries.bulk_write([_insert_once(doc) for doc in complete], session=session)

    async def remember_account(self, session: Session, account: dict[str, Any]) -> None:
        email = account["email"].lower()
        await self.accounts.update_one({"_id": email}, {"$set": account | {"updated_at": utcnow()}}, upsert=True, session=session)

    async def staff_emails(self, session: Session | None, emails: list[str]) -> list[str]:
        """Those of `emails` that belong to a finance or admin account."""
        wanted = [email.strip().lower() for email in emails]
        found = self.accounts.find({"_id": {"$in": wanted}, "role": {"$in": ["finance", "admin"]}, "email_verified": True}, session=session)
        staff = {doc["_id"] async for doc in found}
        return [email for email in wanted if email in staff]

    async def preferences_of(self, session: Session | None, recipient: str) -> dict[str, list[Channel]]:
        doc = await self.preferences.find_one({"_id": recipient}, session=session)
        return dict(doc["channels"]) if doc else {}

    async def preferences_of_all(self, session: Session, recipients: list[str]) -> dict[str, dict[str, list[Channel]]]:
        """Everyone's choices in one query (an event's notices go to a shopper and its sellers)."""
        if not recipients:
            return {}
        found = self.preferences.find({"_id": {"$in": list(dict.fromkeys(recipients))}}, session=session)
        return {doc["_id"]: dict(doc["channels"]) async for doc in found}

    # --- the sending jobs -------------------------------------------------------------------

    async def due(self, channels: list[str], now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come on these channels, and claims left behind by a
        crashed sender: one indexed range query, as only those two states carry a `due_at` (the
        lower bound keeps the scan off the settled deliveries, which have none)."""
        query = {"due_at": {"$gte": EPOCH, "$lte": now}, "channel": {"$in": channels}}
        found = await self.deliveries.find(query).sort("due_at", 1).limit(limit).to_list()
        return [Delivery.from_document(doc) for doc in found]

    async def claim(self, due: list[Delivery], now: datetime, hold_seconds: dict[str, float]) -> list[Delivery]:
        """Take deliveries for sending, in one bulk write, each for its channel's hold; those
        someone else changed meanwhile are left out. The attempt is counted here, before sending,
        so that a crash mid-send still counts."""
        if not due:
            return []
        token = uuid.uuid4().hex

        def take(delivery: Delivery) -> UpdateOne:
            until = now + timedelta(seconds=hold_seconds[delivery.channel])
            claimed = {"status": "sending", "claimed_until": until, "next_attempt_at": until, "due_at": until, "claim": token}
            # status and attempts name the state we saw: every claim increments attempts.
            seen = {"_id": delivery.id, "status": delivery.status, "attempts": delivery.attempts}
            return UpdateOne(seen, {"$set": claimed, "$inc": {"attempts": 1}})

        result = await self.deliveries.bulk_write([take(delivery) for delivery in due], ordered=False)
        if result.modified_count < len(due):
            found = self.deliveries.find({"_id": {"$in": [d.id for d in due]}, "claim": token}, {"_id": 1})
            ours = {doc["_id"] async for doc in found}
            due = [d for d in due if d.id in ours]
        return [replace(d, status="sending", attempts=d.attempts + 1) for d in due]

    async def record_outcomes(self, outcomes: list[Outcome]) -> None:
        await self.deliveries.bulk_write([outcome.update() for outcome in outcomes], ordered=False)

    async def skip_all(self, deliveries: list[str], reason: str) -> None:
        await self.deliveries.update_many(
            {"_id": {"$in": deliveries}},
            {"$set": {"status": "skipped", "last_error": reason, "claimed_until": None}, "$unset": {"due_at": ""}},
        )

    async def migrate(self) -> None:
        """Deliveries stored before `due_at` existed get it if they still have to go out (idempotent:
        only those without one; run at start-up, before the sending jobs)."""
        old = self.deliveries.find({"status": {"$in": ["pending", "sending"]}, "due_at": {"$exists": False}}, {"next_attempt_at": 1})
        async for doc in old:
            due = doc.get("next_attempt_at") or utcnow()
            await self.deliveries.update_one({"_id": doc["_id"], "due_at": {"$exists": False}}, {"$set": {"due_at": due}})

    # --- inbox and admin --------------------------------------------------------------------

    async def inbox(self, owner: dict[str, Any], limit: int, unread_only: bool) -> list[dict[str, Any]]:
        query = owner | ({"read": False} if unread_only else {})
        return await self.messages.find(query).sort("created_at", -1).limit(limit).to_list()

    async def unread_count(self, owner: dict[str, Any]) -> int:
        return await self.messages.count_documents(owner | {"read": False})

    async def mark_read(self, owner: dict[str, Any], ids: list[str] | None) -> int:
        query = owner | {"read": False} | ({"_id": {"$in": ids}} if ids is not None else {})
        result = await self.messages.update_many(query, {"$set": {"read": True, "read_at": utcnow()}})
        return result.modified_count

    async def message(self, owner: dict[str, Any], message: str) -> dict[str, Any] | None:
        return await self.messages.find_one(owner | {"_id": message})

    async def list_deliveries(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return await self.deliveries.find(query).sort("created_at", -1).limit(limit).to_list()

    async def resend(self, delivery: str, by: str) -> dict[str, Any] | None:
        """A failed delivery goes back in the queue with fresh attempts; same idempotency key."""
        now = utcnow()
        result = await self.deliveries.update_one(
            {"_id": delivery, "status": "failed"},
            {"$set": {"status": "pending", "attempts": 0, "next_attempt_at": now, "due_at": now, "resent_by": by, "resent_at": now}},
        )
        return await self.deliveries.find_one({"_id": delivery}) if result.modified_count == 1 else None

    async def save_preferences(self, recipient: str, channels: dict[str, list[Channel]]) -> None:
        await self.preferences.update_one({"_id": recipient}, {"$set": {"channels": channels, "updated_at": utcnow()}}, upsert=True)


@dataclass(frozen=True)
class Outcome:
    """What became of one send: sent (with the provider's id), or failed with when to try again
    (None: no more attempts; the delivery waits for an admin's resend)."""

    delivery: str
    sent: bool
    provider_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None

    def update(self) -> UpdateOne:
        if self.sent:
            changes = {"status": "sent", "sent_at": utcnow(), "provider_id": self.provider_id, "claimed_until": None}
            return UpdateOne({"_id": self.delivery, "status": "sending"}, {"$set": changes, "$unset": {"due_at": ""}})
        failed: dict[str, Any] = {"last_error": self.error, "claimed_until": None}
        update: dict[str, Any] = {"$push": {"errors": {"$each": [{"at": utcnow(), "error": self.error}], "$slice": -KEEP_ERRORS}}}
        if self.retry_at:
            failed |= {"status": "pending", "next_attempt_at": self.retry_at, "due_at": self.retry_at}
        else:
            failed |= {"status": "failed", "failed_at": utcnow()}
            update["$unset"] = {"due_at": ""}
        return UpdateOne({"_id": self.delivery, "status": "sending"}, {"$set": failed} | update)


def _insert_once(doc: dict[str, Any]) -> UpdateOne:
    return UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
