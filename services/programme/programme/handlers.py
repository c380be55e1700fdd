"""The programme learns about sales only from events: settlements, refunds (levy reversals) and
cancellations. Each handler runs inside the consumer's inbox transaction; the events of one
transaction share a unit of work (`Tallies.scope`): one read of what they need before their
handlers, one write per collection of what they change after them."""

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled
from beli_contracts.payments import LevyReversed, PaymentSettled
from beli_contracts.topics import ORDERS_EVENTS, PAYMENTS_EVENTS
from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Session
from programme.tallies import Tallies


class ProgrammeHandlers:
    def __init__(self, tallies: Tallies) -> None:
        self.tallies = tallies

    def subscription(self) -> Subscription:
        return Subscription(
            topics=(PAYMENTS_EVENTS, ORDERS_EVENTS),
            handlers={
                PaymentSettled.TYPE: self.on_settled,
                LevyReversed.TYPE: self.on_refunded,
                OrderCancelled.TYPE: self.on_cancelled,
            },
            scope=self.tallies.scope,
        )

    async def on_settled(self, envelope: Envelope, event: PaymentSettled, session: Session) -> None:
        await self.tallies.settled(session, event)

    async def on_refunded(self, envelope: Envelope, event: LevyReversed, session: Session) -> None:
        await self.tallies.refunded(session, event, envelope.time)

    async def on_cancelled(self, envelope: Envelope, event: OrderCancelled, session: Session) -> None:
        await self.tallies.cancelled(session, event.order_id)
