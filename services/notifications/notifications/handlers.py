"""Notifications react to events by recording what to send; sending happens in the sending job,
never in a consumer. An event's messages and deliveries (a message carrying its e-mail: one
document, store.py) are one bulk write that dedupes the
event itself (`NotificationsStore.add_notices`), so the consumer keeps no inbox row and opens no
transaction for it (`Subscription.self_deduplicating`): that write, and a look-up of preferences
only for people who saved some, is all an event costs. The deliveries go out from here as soon as
that write is stored, claimed by it (`DeliveryJob.take`): no look nor claim of the sending job.
Remembering an account (`$set`) keeps the consumer's inbox, so an older copy of the event never
overwrites a newer one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beli_contracts import Envelope
from beli_contracts.accounts import AccountVerified, VerificationCodeIssued
from beli_contracts.catalog import StockLow
from beli_contracts.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderShipped,
    PickupCollected,
    PickupReminderDue,
    SubOrderAtOutlet,
    SubOrderReturned,
)
from beli_contracts.payments import LevyRuleChanged, PaymentLinkCreated, PaymentReturned
from beli_contracts.programme import CommitmentMet, CommitmentReminderDue
from beli_contracts.topics import CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, PROGRAMME_EVENTS
from beli_runtime.clock import utcnow
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session
from notifications import domain
from notifications.domain import KINDS, Channel, Notice
from notifications.phones import InvalidPhone, to_e164, try_e164
from notifications.preferences import SavedPreferences, StalePreferences
from notifications.rendering import Rendered, Renderer
from notifications.sender import DeliveryJob
from notifications.settings import NotificationsSettings
from notifications.store import INBOX, NotificationsStore, Written, delivery_id, message_id

UNVERIFIED_EMAIL = "alamat e-mail ini belum diverifikasi oleh pemiliknya"
UNVERIFIED_PHONE = "nomor telepon ini belum diverifikasi oleh pemiliknya"
# Writes of one event whose guard may find preferences changed before the consumer's retry takes over.
GUARD_ATTEMPTS = 3


class NotificationsHandlers:
    def __init__(self, store: NotificationsStore, saved: SavedPreferences, renderer: Renderer, settings: NotificationsSettings) -> None:
        self.store = store
        self.saved = saved
        self.renderer = renderer
        self.settings = settings
        # The sending job of this instance (main.py), which sends the deliveries written here;
        # without one, they wait for a sending job's look.
        self.sender: DeliveryJob | None = None

    def subscription(self) -> Subscription:
        def on(build: Callable[[Any], list[Notice]]) -> Any:
            async def handle(envelope: Envelope, event: Any, session: Session) -> None:
                await self.record(session, str(envelope.id), build(event))

            return handle

        handlers: dict[str, Any] = {
            PaymentLinkCreated.TYPE: on(domain.for_payment_link),
            # Receipts follow orders' decision: money for a cancelled order is returned instead.
            OrderPaid.TYPE: on(domain.for_settlement),
            PaymentReturned.TYPE: on(domain.for_return),
            OrderCancelled.TYPE: on(domain.for_cancellation),
            OrderShipped.TYPE: on(domain.for_shipment),
            OrderCompleted.TYPE: on(domain.for_completion),
            SubOrderAtOutlet.TYPE: on(domain.for_pickup_ready),
            PickupReminderDue.TYPE: on(domain.for_pickup_reminder),
            PickupCollected.TYPE: on(domain.for_pickup_collected),
            SubOrderReturned.TYPE: on(domain.for_pickup_returned),
            StockLow.TYPE: on(domain.for_stock_low),
            LevyRuleChanged.TYPE: self.on_levy_rule_changed,
            CommitmentReminderDue.TYPE: on(domain.for_commitment_reminder),
            CommitmentMet.TYPE: on(domain.for_commitment_met),
            VerificationCodeIssued.TYPE: self.on_code,
            AccountVerified.TYPE: self.on_account_verified,
        }
        return Subscription(
            topics=(ORDERS_EVENTS, PAYMENTS_EVENTS, CATALOG_EVENTS, PROGRAMME_EVENTS),
            handlers=handlers,
            # Every handler but the account's writes through add_notices, which dedupes the event.
            self_deduplicating=frozenset(handlers) - {AccountVerified.TYPE},
        )

    async def on_levy_rule_changed(self, envelope: Envelope, event: LevyRuleChanged, session: Session) -> None:
        # FINANCE_EMAILS reach staff accounts only: an address someone signed up with is not enough.
        staff = await self.store.staff_emails(session, self.settings.finance_recipients)
        await self.record(session, str(envelope.id), domain.for_levy_rule_change(event, staff))

    async def on_account_verified(self, envelope: Envelope, event: AccountVerified, session: Session) -> None:
        await self.store.remember_account(session, event.model_dump(mode="json"))

    async def on_code(self, envelope: Envelope, event: VerificationCodeIssued, session: Session) -> None:
        """The code goes to exactly the address it proves, on its own channel; no inbox, no preferences."""
        notice = Notice("verification_code", event.address.lower(), event.address, event.address, None, event.model_dump())
        rendered = self.renderer.render(notice)
        inbox_id = message_id(str(envelope.id), notice.kind, notice.recipient)
        doc = _delivery(inbox_id, str(envelope.id), notice, event.channel) | {"address": event.address}
        if event.channel == "email":
            doc |= {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}
        else:
            doc |= {"text": rendered.whatsapp if event.channel == "whatsapp" else rendered.sms}
            try:
                doc["address"] = to_e164(event.address, self.settings.default_phone_region)
            except InvalidPhone as invalid:
                doc |= {"status": "rejected", "last_error": str(invalid)}
        await self._write(session, [doc])

    async def record(self, session: Session, event_id: str, notices: list[Notice]) -> None:
        """An event's inbox messages and deliveries in one bulk write, after a look-up of the
        preferences of those who saved some (none for most events). The write's guard fails when
        someone saved preferences meanwhile, on any instance: learn who, and write again."""
        reachable = [notice.recipient for notice in notices if notice.email_verified]
        for _ in range(GUARD_ATTEMPTS):
            chosen = await self.saved.of(session, reachable)
            if await self._write(session, self._documents(event_id, notices, chosen), guard=True) != "stale":
                return
            await self.saved.refresh()
        raise StalePreferences(f"preferences kept changing while event {event_id} was written")  # retried by the consumer

    async def _write(self, session: Session, documents: list[dict[str, Any]], guard: bool = False) -> Written:
        """Write an event's documents with the deliveries this instance's sender takes already
        claimed, and send those once the write stored them as they are."""
        guarded = self.saved.guard() if guard else None
        if self.sender is None:
            return await self.store.add_notices(session, documents, guarded)
        handover = self.sender.take(documents)
        written: Written | None = None
        try:
            written = await self.store.add_notices(session, handover.documents, guarded)
        finally:
            if written == "written":
                handover.start()
            else:
                handover.cancel()
        return written

    def _documents(self, event_id: str, notices: list[Notice], chosen: dict[str, dict[str, list[Channel]]]) -> list[dict[str, Any]]:
        """The documents of an event's notices: each person's inbox message, carrying its e-mail
        when the person gets one (one document instead of two: issue 11), then the deliveries on
        the other channels. Messages come first: the first document dedupes the event."""
        messages: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for notice in notices:
            inbox_id = message_id(event_id, notice.kind, notice.recipient)
            if not notice.email_verified:
                # Nobody proved they read this address: no inbox tied to it, nothing sent to it. The
                # skipped delivery tells operators why the person heard nothing.
                skipped = {"address": notice.email, "status": "skipped", "last_error": UNVERIFIED_EMAIL}
                deliveries.append(_delivery(inbox_id, event_id, notice, "email") | skipped)
                continue
            rendered = self.renderer.render(notice)
            message = self._message(inbox_id, event_id, notice, rendered)
            sends = self._deliveries(inbox_id, event_id, notice, rendered, chosen.get(notice.recipient, {}).get(notice.kind))
            email = next((doc for doc in sends if doc["channel"] == "email"), None)
            # The e-mail's id is the message's: its Message-ID and a retry's stay the same.
            messages.append((message | email | {"_id": inbox_id}) if email else (message | {"channel": INBOX}))
            deliveries += [doc for doc in sends if doc is not email]
        return messages + deliveries

    def _message(self, inbox_id: str, event_id: str, notice: Notice, rendered: Rendered) -> dict[str, Any]:
        return {
            "_id": inbox_id,
            "event_id": event_id,
            "kind": notice.kind,
            "recipient": notice.recipient,
            "email": notice.email,
            "phone": try_e164(notice.phone, self.settings.default_phone_region),
            "order_id": notice.order_id,
            "subject": rendered.subject,
            "text": rendered.text,
            "read": False,
            "created_at": utcnow(),
        }

    def _deliveries(
        self, inbox_id: str, event_id: str, notice: Notice, rendered: Rendered, chosen: list[Channel] | None
    ) -> list[dict[str, Any]]:
        """One delivery per channel the person chose (or the kind's default)."""
        kind = KINDS[notice.kind]
        channels = domain.channels_for(kind, chosen)
        docs = [self._channel_delivery(_delivery(inbox_id, event_id, notice, channel), notice, rendered) for channel in channels]
        if kind.transactional and not any(doc["status"] == "pending" for doc in docs) and "email" not in channels and notice.email:
            # Receipts always reach at least one channel: the chosen phone channels cannot be used.
            fallback = _delivery(inbox_id, event_id, notice, "email") | {"fallback": True, "address": notice.email}
            docs.append(fallback | {"subject": rendered.subject, "text": rendered.text, "html": rendered.html})
        return docs

    def _channel_delivery(self, doc: dict[str, Any], notice: Notice, rendered: Rendered) -> dict[str, Any]:
        """The delivery on one chosen channel: pending, or why it cannot go out (no or a bad
        address, a phone nobody proved)."""
        if doc["channel"] == "email":
            doc |= {"address": notice.email, "subject": rendered.subject, "text": rendered.text, "html": rendered.html}
            if not notice.email:
                doc |= {"status": "rejected", "last_error": "no e-mail address on record"}
            return doc
        doc |= {"text": rendered.whatsapp if doc["channel"] == "whatsapp" else rendered.sms}
        try:
            doc["address"] = to_e164(notice.phone, self.settings.default_phone_region)
        except InvalidPhone as invalid:
            doc |= {"address": notice.phone, "status": "rejected", "last_error": str(invalid)}
        else:
            if not notice.phone_verified:
                doc |= {"status": "skipped", "last_error": UNVERIFIED_PHONE}
        return doc


def _delivery(inbox_id: str, event_id: str, notice: Notice, channel: str) -> dict[str, Any]:
    """What every delivery record starts with: which message, for whom, on which channel."""
    return {
        "_id": delivery_id(inbox_id, channel),
        "message_id": inbox_id,
        "event_id": event_id,
        "kind": notice.kind,
        "channel": channel,
        "recipient": notice.recipient,
        "order_id": notice.order_id,
        "status": "pending",
    }
