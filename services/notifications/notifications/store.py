"""Notifications persistence.

- `deliveries`: the in-app inbox's messages and the intents to send them, one collection. An
  event's notice to one person is its inbox message (`_id` = `message_id(event, kind, recipient)`,
  the id the inbox API shows, with its read mark) carrying the e-mail delivery too when e-mail is
  one of that person's channels for it (`channel` "email": address, subject, text, html, status,
  attempts, claim and outcome; the message id is then also the delivery's id and the e-mail's
  Message-ID seed); a message sent by no e-mail has `channel` "inbox". WhatsApp and SMS,
  verification codes and the deliveries of people without an inbox (skipped: nothing to read) are
  documents of their own (`_id` = `delivery_id(message, channel)`).
  A message is a document with a read mark (`read`), so the inbox finds the messages whatever
  they carry (those stored by earlier versions, `channel` "inbox" beside a `…:email` delivery of
  their own, too: nothing to migrate) and the sending job, the claims, outcomes and the admin's
  listing find deliveries by their channel, as before.
- Deliveries are written with the event (one bulk write), most of them already claimed by the
  consuming instance, which sends them itself (`sender.DeliveryJob.take`); the sending job claims
  the others (status `sending`, `claimed_until`). The sender then marks it `sent`. A crash between
  the two leaves a claim that expires and is retried with the same provider idempotency key. `due_at`
  is set only while a delivery still has to go out (pending: when to try; sending: when its claim
  expires), so finding the due ones is one range query over a small index.

Round trips and document writes (issue 11): an event's documents are one bulk write, a message
and its e-mail one document (they were two inserts, the larger part of a paid order's), a batch of
due deliveries is claimed with one write, and marks of sends that finish together share one.
Every write of an event is an insert keyed by the event id that leaves an existing document as it
is, so the consumer needs no inbox row for it.
- `preferences`: per recipient, which channels for which kind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from beli_runtime.clock import utcnow
from beli_runtime.mongo import DUPLICATE_KEY, Database, Session, drop_index, ensure_index
from notifications.domain import CHANNELS, Channel

# pending -> sending -> sent | pending (retry) | failed; rejected/skipped never go out.
DUE_STATUSES = ("pending", "sending")
KEEP_ERRORS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INBOX = "inbox"  # the channel of a message that carries no e-mail (its other channels are documents of their own)
# What only inbox messages have: their read mark (what the inbox reads by, never a delivery's field).
MESSAGE = {"read": {"$in": [False, True]}}
# A message's own fields, which completing an earlier version's message with its e-mail leaves as they are.
MESSAGE_ONLY = ("_id", "read", "read_at", "created_at", "event_last", "event_written")
# What became of an event's write: written now; completed (a write cut short before, whose documents
# that were already stored stayed as they were); seen before; or refused by its guard (nothing written).
Written = Literal["written", "completed", "seen", "stale"]
# Indexes of `deliveries` that no query uses any more, dropped at start-up: the server updates every
# index of a document it writes, used or not (issue 11). The sending job finds its work by `due_at`.
UNUSED_INDEXES = ("channel_1_status_1_next_attempt_at_1",)


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
        self.deliveries = db["deliveries"]
        # Where inbox messages lived before they joined their deliveries (moved at start-up).
        self.legacy_messages = db["messages"]
        self.preferences = db["preferences"]
        # What accounts proved (from catalog.account_verified), keyed by e-mail: who is staff.
        self.accounts = db["accounts"]

    async def ensure_indexes(self) -> None:
        """Each index serves a query that would otherwise read the collection, and costs every write
        of every delivery (three per sent one: intent, claim, outcome), so there is none other:
        the inbox by e-mail (list: recipient+created_at; unread badge and mark read: recipient+read)
        and by phone (admins), the sending job (`due_at`), and the admin listing by status, order
        or recipient. A listing by channel alone reads the collection (sorted in memory, as
        every listing on this server)."""
        await ensure_index(self.deliveries, [("phone", 1), ("created_at", -1)])
        await ensure_index(self.deliveries, [("recipient", 1), ("read", 1)])
        await ensure_index(self.deliveries, [("due_at", 1)])
        await ensure_index(self.deliveries, [("status", 1), ("created_at", -1)])
        await ensure_index(self.deliveries, [("order_id", 1)])
        await ensure_index(self.deliveries, [("recipient", 1), ("created_at", -1)])
        for name in UNUSED_INDEXES:
            await drop_index(self.deliveries, name)

    # --- written by the consumer -------------------------------------------------------------

    async def add_notices(self, session: Session, documents: list[dict[str, Any]], guard: UpdateOne | None = None) -> Written:
        """An event's inbox messages and deliveries in one ordered bulk write of updates (one
        command), which also dedupes the event (the consumer keeps no inbox row for it): its first
        document is inserted (`_insert_or_fail`), so its duplicate key means the event was seen and
        stops the write before anything else (a channel chosen since must not send the notice
        again); the others are upserts with $setOnInsert. The first document names the last one
        (`event_last`): the write being ordered, the last document stored means the whole event
        was (a marker set by a last statement cost one more document write per event; issue 11).
        A write cut short (the database away mid-command) is completed by the event's next
        delivery. `guard`, when given, goes first (SavedPreferences)."""
        now = utcnow()
        docs = [_with_defaults(doc, now) if "status" in doc else doc for doc in documents]
        if not docs:
            return "written"
        head = docs[0]["_id"]
        writes: list[Any] = [guard] if guard else []
        marker = len(writes)  # the index of the first document's insert
        writes += [_insert_or_fail(docs[0] | {"event_last": docs[-1]["_id"]}), *map(insert_once, docs[1:])]
        try:
            await self.deliveries.bulk_write(writes, ordered=True, session=session)
        except BulkWriteError as error:
            failed = error.details.get("writeErrors", [{}])[0]
            if failed.get("code") != DUPLICATE_KEY or failed.get("index") not in (0, marker):
                raise
            if failed["index"] != marker:
                return "stale"  # the guard: nothing was written
            if not await self._cut_short(session, head):
                return "seen"
            # Completed with the channels chosen now; the first document then names this write's last.
            emails = await self._emails_for_stored_messages(session, docs)
            completion = [*map(insert_once, docs), *emails, UpdateOne({"_id": head}, _completed(docs[-1]["_id"]))]
            await self.deliveries.bulk_write(completion, ordered=True, session=session)
            return "completed"
        return "written"

    async def _cut_short(self, session: Session, head: str) -> bool:
        """Whether the event's earlier write stopped before its end: its last document is missing.
        (Earlier versions marked the first document `event_written` at the end instead.)"""
        seen = await self.deliveries.find_one({"_id": head}, {"event_written": 1, "event_last": 1}, session=session)
        if seen is None:
            return False
        if "event_last" not in seen:
            return seen.get("event_written", True) is False
        last = seen["event_last"]
        return last != head and await self.deliveries.find_one({"_id": last}, {"_id": 1}, session=session) is None

    async def _emails_for_stored_messages(self, session: Session, docs: list[dict[str, Any]]) -> list[UpdateOne]:
        """Completing a write cut short: a message stored without an e-mail takes on the e-mail
        chosen now (as a missing `…:email` document was inserted before they were one), unless
        the write was an earlier version's and stored that e-mail as a document of its own (it
        wrote those after every message); a message already carrying a delivery (it has a
        status) stays as it is."""
        carried = [doc for doc in docs if "read" in doc and doc.get("channel") == "email"]
        if not carried:
            return []
        apart = [delivery_id(doc["_id"], "email") for doc in carried]
        stored = {doc["_id"] async for doc in self.deliveries.find({"_id": {"$in": apart}}, {"_id": 1}, session=session)}
        return [
            UpdateOne({"_id": doc["_id"], "status": {"$exists": False}}, {"$set": {k: v for k, v in doc.items() if k not in MESSAGE_ONLY}})
            for doc in carried
            if delivery_id(doc["_id"], "email") not in stored
        ]

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
        token = new_claim()

        def take(delivery: Delivery) -> UpdateOne:
            claimed = claim_fields(now + timedelta(seconds=hold_seconds[delivery.channel]), token)
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

    # --- inbox and admin --------------------------------------------------------------------

    # `owner` names whose inbox ({"recipient": e-mail} or {"phone": E.164}); MESSAGE keeps the
    # same person's deliveries of their own (WhatsApp, SMS, older e-mails) out of it.

    async def inbox(self, owner: dict[str, Any], limit: int, unread_only: bool) -> list[dict[str, Any]]:
        query = owner | ({"read": False} if unread_only else MESSAGE)
        return await self.deliveries.find(query).sort("created_at", -1).limit(limit).to_list()

    async def unread_count(self, owner: dict[str, Any]) -> int:
        return await self.deliveries.count_documents(owner | {"read": False})

    async def mark_read(self, owner: dict[str, Any], ids: list[str] | None) -> int:
        query = owner | {"read": False} | ({"_id": {"$in": ids}} if ids is not None else {})
        result = await self.deliveries.update_many(query, {"$set": {"read": True, "read_at": utcnow()}})
        return result.modified_count

    async def message(self, owner: dict[str, Any], message: str) -> dict[str, Any] | None:
        return await self.deliveries.find_one(owner | {"_id": message} | MESSAGE)

    async def list_deliveries(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Deliveries on the sending channels (messages carrying their e-mail too), newest first."""
        channel = query.get("channel")
        if channel is not None and channel not in CHANNELS:
            return []
        query = query | ({} if channel else {"channel": {"$in": list(CHANNELS)}})
        return await self.deliveries.find(query).sort("created_at", -1).limit(limit).to_list()

    async def resend(self, delivery: str, by: str) -> dict[str, Any] | None:
        """A failed delivery goes back in the queue with fresh attempts; same idempotency key."""
        now = utcnow()
        result = await self.deliveries.update_one(
            {"_id": delivery, "status": "failed"},
            {"$set": {"status": "pending", "attempts": 0, "next_attempt_at": now, "due_at": now, "resent_by": by, "resent_at": now}},
        )
        return await self.deliveries.find_one({"_id": delivery}) if result.modified_count == 1 else None


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


def new_claim() -> str:
    """The token of one claim: a sender finds which of the deliveries it tried to take are its own."""
    return uuid.uuid4().hex


def claim_fields(until: datetime, token: str) -> dict[str, Any]:
    """A delivery taken for sending until `until` (when the claim expires and it is due again)."""
    return {"status": "sending", "claimed_until": until, "next_attempt_at": until, "due_at": until, "claim": token}


def _with_defaults(delivery: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A delivery as first stored: no attempt yet, due now if it is to go out."""
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
    return defaults | ({"due_at": now} if delivery["status"] == "pending" else {}) | delivery


def _completed(last: str) -> dict[str, Any]:
    return {"$set": {"event_last": last}, "$unset": {"event_written": ""}}


def insert_once(doc: dict[str, Any]) -> UpdateOne:
    return UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


def _insert_or_fail(doc: dict[str, Any]) -> UpdateOne:
    """An insert written as an update, so that a bulk write of updates stays one command (PyMongo
    sends a run of inserts as a command of its own): its filter matches no document (no document
    has the field), so it inserts, or fails on the duplicate `_id`."""
    return UpdateOne({"_id": doc["_id"], "never_stored": {"$exists": True}}, {"$setOnInsert": doc}, upsert=True)
