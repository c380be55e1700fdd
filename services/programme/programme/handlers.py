"""The programme learns about sales only from events: settlements, refunds (levy reversals) and
cancellations. Each handler runs inside one of the consumer's shared transactions; the events of
one transaction share a unit of work (`Tallies.scope`): one read of what they need before their
handlers, one write per collection of what they change after them.

All three are state-guarded (`Subscription.state_guarded`, no inbox row; issue 11): what they
change is guarded by the order's sale, written in the same transaction as the figures.
- A settlement counts only when its claim inserts the sale (a sale already stored, counted or
  cancelled, is left as it is); a copy, or a settlement after the order's cancellation or refund,
  finds it stored and writes and publishes nothing.
- A cancellation's only write is that claim: over a stored sale it writes nothing.
- A refund counts only on a counted sale whose `reversals` lack its ledger entry id, and pushes
  the id with its figures; a copy finds the id (in the same batch too: the unit of work keeps the
  sale as the first copy left it). A refund that finds no counted sale writes nothing: payments
  publishes a settlement in the transaction that makes the payment refundable, on the order's
  key, so a refund never comes before its settlement, and a copy of it never comes after one.
Two copies are never in two transactions at once (one key's events are handled in order, and
the programme has one batch writer); a second instance's would conflict on the sale and retry."""

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
            state_guarded=frozenset({PaymentSettled.TYPE, LevyReversed.TYPE, OrderCancelled.TYPE}),
            scope=self.tallies.scope,
        )

    async def on_settled(self, envelope: Envelope, event: PaymentSettled, session: Session) -> None:
        await self.tallies.settled(session, event)

    async def on_refunded(self, envelope: Envelope, event: LevyReversed, session: Session) -> None:
        await self.tallies.refunded(session, event, envelope.time)

    async def on_cancelled(self, envelope: Envelope, event: OrderCancelled, session: Session) -> None:
        await self.tallies.cancelled(session, event.order_id)
