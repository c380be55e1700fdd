"""Notifications persistence.

- `messages`: the in-app inbox, one document per (event, kind, recipient).
- `deliveries`: one document per (event, kind, recipient, channel) for e-mail/WhatsApp/SMS. It is
  the intent to send, written with the consumer's inbox entry in one transaction; the channel's
  job claims it (status `sending`, `claimed_until`), sends, then marks it `sent`. A crash between
  the two leaves a claim that expires and is retried with the same provider idempotency key.
- `preferences`: per recipient, which channels for which kind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index
from notifications.domain import Channel

# pending -> sending -> sent | pending (retry) | failed; rejected/skipped never go out.
DUE_STATUSES = ("pending", "sending")
KEEP_ERRORS = 10


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
        await ensure_index(self.deliveries, [("status", 1), ("created_at", -1)])
        await ensure_index(self.deliveries, [("order_id", 1)])
        await ensure_index(self.deliveries, [("recipient", 1), ("created_at", -1)])

    # --- written by the consumer, inside its transaction -----------------------------------

    async def add_message(self, session: Session, doc: dict[str, Any]) -> None:
        # $setOnInsert rather than insert: a duplicate-key error would abort the whole transaction.
        await self.messages.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session)

    async def add_delivery(self, session: Session, doc: dict[str, Any]) -> None:
        now = utcnow()
        doc = {
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "last_error": None,
            "errors": [],
            "provider_id": None,
            "created_at": now,
            "sent_at": None,
        } | doc
        await self.deliveries.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session)

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

    # --- the sending jobs -------------------------------------------------------------------

    async def due(self, channel: str, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, and claims left behind by a crashed sender.

        A claim keeps its expiry in `next_attempt_at` too, so both are the same indexed query
        shape (equality on channel and status, range on next_attempt_at): no $or, which some
        MongoDB-protocol servers answer with a full scan."""
        found: list[dict[str, Any]] = []
        for status in ("sending", "pending"):
            query = {"channel": channel, "status": status, "next_attempt_at": {"$lte": now}}
            found += await self.deliveries.find(query).sort("next_attempt_at", 1).limit(limit - len(found)).to_list()
            if len(found) >= limit:
                break
        return [Delivery.from_document(doc) for doc in found]

    async def claim(self, delivery: Delivery, now: datetime, hold_seconds: float) -> Delivery | None:
        """Take one delivery for sending; None if someone else changed it meanwhile. The attempt is
        counted here, before sending, so that a crash mid-send still counts."""
        until = now + timedelta(seconds=hold_seconds)
        result = await self.deliveries.update_one(
            {"_id": delivery.id, "status": delivery.status, "attempts": delivery.attempts},
            {"$set": {"status": "sending", "claimed_until": until, "next_attempt_at": until}, "$inc": {"attempts": 1}},
        )
        if result.modified_count != 1:
            return None
        return replace(delivery, status="sending", attempts=delivery.attempts + 1)

    async def mark_sent(self, delivery: str, provider_id: str | None) -> None:
        await self.deliveries.update_one(
            {"_id": delivery, "status": "sending"},
            {"$set": {"status": "sent", "sent_at": utcnow(), "provider_id": provider_id, "claimed_until": None}},
        )

    async def mark_failed_attempt(self, delivery: str, error: str, retry_at: datetime | None) -> None:
        """`retry_at` None: no more attempts; the delivery waits for an admin's resend."""
        changes: dict[str, Any] = {"last_error": error, "claimed_until": None}
        changes |= {"status": "pending", "next_attempt_at": retry_at} if retry_at else {"status": "failed", "failed_at": utcnow()}
        await self.deliveries.update_one(
            {"_id": delivery, "status": "sending"},
            {"$set": changes, "$push": {"errors": {"$each": [{"at": utcnow(), "error": error}], "$slice": -KEEP_ERRORS}}},
        )

    async def mark_skipped(self, delivery: str, reason: str) -> None:
        await self.deliveries.update_one({"_id": delivery}, {"$set": {"status": "skipped", "last_error": reason, "claimed_until": None}})

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
        result = await self.deliveries.update_one(
            {"_id": delivery, "status": "failed"},
            {"$set": {"status": "pending", "attempts": 0, "next_attempt_at": utcnow(), "resent_by": by, "resent_at": utcnow()}},
        )
        return await self.deliveries.find_one({"_id": delivery}) if result.modified_count == 1 else None

    async def save_preferences(self, recipient: str, channels: dict[str, list[Channel]]) -> None:
        await self.preferences.update_one({"_id": recipient}, {"$set": {"channels": channels, "updated_at": utcnow()}}, upsert=True)
