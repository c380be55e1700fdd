"""Notifications react to events by recording what to send; sending happens in the channel jobs,
never in a consumer. Everything here runs inside the consumer's inbox transaction, so a
redelivered event finds its id in the inbox and records nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beli_contracts import Envelope
from beli_contracts.catalog import StockLow
from beli_contracts.orders import OrderCancelled, OrderCompleted, OrderShipped
from beli_contracts.payments import LevyRuleChanged, PaymentLinkCreated, PaymentSettled
from beli_contracts.programme import CommitmentMet, CommitmentReminderDue
from beli_contracts.topics import CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, PROGRAMME_EVENTS
from beli_runtime.clock import utcnow
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session
from notifications import domain
from notifications.domain import KINDS, Notice
from notifications.phones import InvalidPhone, to_e164, try_e164
from notifications.rendering import Renderer
from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore, delivery_id, message_id


class NotificationsHandlers:
    def __init__(self, store: NotificationsStore, renderer: Renderer, settings: NotificationsSettings) -> None:
        self.store = store
        self.renderer = renderer
        self.settings = settings

    def subscription(self) -> Subscription:
        def on(build: Callable[[Any], list[Notice]]) -> Any:
            async def handle(envelope: Envelope, event: Any, session: Session) -> None:
                await self.record(session, str(envelope.id), build(event))

            return handle

        return Subscription(
            topics=(ORDERS_EVENTS, PAYMENTS_EVENTS, CATALOG_EVENTS, PROGRAMME_EVENTS),
            handlers={
                PaymentLinkCreated.TYPE: on(domain.for_payment_link),
                PaymentSettled.TYPE: on(domain.for_settlement),
                OrderCancelled.TYPE: on(domain.for_cancellation),
                OrderShipped.TYPE: on(domain.for_shipment),
                OrderCompleted.TYPE: on(domain.for_completion),
                StockLow.TYPE: on(domain.for_stock_low),
                LevyRuleChanged.TYPE: on(lambda e: domain.for_levy_rule_change(e, self.settings.finance_recipients)),
                CommitmentReminderDue.TYPE: on(domain.for_commitment_reminder),
                CommitmentMet.TYPE: on(domain.for_commitment_met),
            },
        )

    async def record(self, session: Session, event_id: str, notices: list[Notice]) -> None:
        for notice in notices:
            await self._record_one(session, event_id, notice)

    async def _record_one(self, session: Session, event_id: str, notice: Notice) -> None:
        kind = KINDS[notice.kind]
        rendered = self.renderer.render(notice)
        region = self.settings.default_phone_region
        phone = try_e164(notice.phone, region)
        inbox_id = message_id(event_id, notice.kind, notice.recipient)
        now = utcnow()
        await self.store.add_message(
            session,
            {
                "_id": inbox_id,
                "event_id": event_id,
                "kind": notice.kind,
                "recipient": notice.recipient,
                "email": notice.email,
                "phone": phone,
                "order_id": notice.order_id,
                "subject": rendered.subject,
                "text": rendered.text,
                "read": False,
                "created_at": now,
            },
        )

        chosen = (await self.store.preferences_of(session, notice.recipient)).get(notice.kind)
        channels = domain.channels_for(kind, chosen)
        usable = 0
        for channel in channels:
            doc: dict[str, Any] = {
                "_id": delivery_id(inbox_id, channel),
                "message_id": inbox_id,
                "event_id": event_id,
                "kind": notice.kind,
                "channel": channel,
                "recipient": notice.recipient,
                "order_id": notice.order_id,
                "status": "pending",
            }
            if channel == "email":
                doc |= {"address": notice.email, "subject": rendered.subject, "text": rendered.text, "html": rendered.html}
                if not notice.email:
                    doc |= {"status": "rejected", "last_error": "no e-mail address on record"}
            else:
                doc |= {"text": rendered.whatsapp if channel == "whatsapp" else rendered.sms}
                try:
                    doc["address"] = to_e164(notice.phone, region)
                except InvalidPhone as invalid:
                    doc |= {"address": notice.phone, "status": "rejected", "last_error": str(invalid)}
            usable += doc["status"] == "pending"
            await self.store.add_delivery(session, doc)
        if kind.transactional and not usable and "email" not in channels and notice.email:
            # Receipts always reach at least one channel: the chosen phone channels cannot be used.
            await self.store.add_delivery(
                session,
                {
                    "_id": delivery_id(inbox_id, "email"),
                    "message_id": inbox_id,
                    "event_id": event_id,
                    "kind": notice.kind,
                    "channel": "email",
                    "recipient": notice.recipient,
                    "order_id": notice.order_id,
                    "status": "pending",
                    "fallback": True,
                    "address": notice.email,
                    "subject": rendered.subject,
                    "text": rendered.text,
                    "html": rendered.html,
                },
            )
