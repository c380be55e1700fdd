"""Notifications react to events only; sending happens in the sender job, never in a consumer."""

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled
from beli_contracts.payments import PaymentSettled
from beli_contracts.topics import ORDERS_EVENTS, PAYMENTS_EVENTS
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session

from notifications.domain import Message, for_cancellation, for_settlement
from notifications.store import NotificationsStore


class NotificationsHandlers:
    def __init__(self, store: NotificationsStore) -> None:
        self.store = store

    def subscription(self) -> Subscription:
        return Subscription(
            topics=(ORDERS_EVENTS, PAYMENTS_EVENTS),
            handlers={PaymentSettled.TYPE: self.on_payment_settled, OrderCancelled.TYPE: self.on_order_cancelled},
        )

    async def on_payment_settled(self, envelope: Envelope, event: PaymentSettled, session: Session) -> None:
        await self._queue(session, str(envelope.id), for_settlement(event))

    async def on_order_cancelled(self, envelope: Envelope, event: OrderCancelled, session: Session) -> None:
        await self._queue(session, str(envelope.id), for_cancellation(event))

    async def _queue(self, session: Session, event_id: str, messages: list[Message]) -> None:
        for message in messages:
            await self.store.add(session, event_id, message, "email")
