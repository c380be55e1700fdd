"""Parcels for pick-up at an NTT Mart outlet that nobody collected go back to their sellers
(`orders.sub_order_returned`): the shopper's money for exactly those lines is refunded through
the same path as every refund (recorded REQUESTED, sent to Midtrans by a job with its
refund_key, completed with levy reversal entries and `payments.levy_reversed`)."""

from beli_contracts.orders import SubOrderReturned
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from payments.refunds import Refunds

log = get_logger(__name__)
SOURCE = "uncollected"


def refund_key(order_id: str, seller_id: str) -> str:
    """One refund per returned sub-order: a redelivered event finds it and records nothing more."""
    return f"{order_id}-{seller_id}-uncollected"


class UncollectedReturns:
    def __init__(self, refunds: Refunds) -> None:
        self.refunds = refunds

    async def begin(self, session: Session, event: SubOrderReturned) -> None:
        key = refund_key(event.order_id, event.seller.seller_id)
        if await self.refunds.refunds.find_one({"_id": key}, {"_id": 1}, session=session):
            return
        lines = [line.model_dump() for line in event.lines]
        reason = f"tidak diambil di {event.outlet.name}: dikembalikan ke {event.seller.name}"
        refund = await self.refunds.reserve_all(session, event.order_id, key, reason, SOURCE, only=lines)
        if refund is None:
            log.warning("payments.uncollected_nothing_left", order_id=event.order_id, seller_id=event.seller.seller_id)
        elif refund.amount != event.gross:
            log.warning("payments.uncollected_partly_refunded_before", order_id=event.order_id, amount=refund.amount, gross=event.gross)

    async def send_due(self) -> bool:
        # Refused: not retried blindly, an operator refunds it (POST /payments/{order_id}/refunds).
        return await self.refunds.send_due(SOURCE, self.refunds.fail)
