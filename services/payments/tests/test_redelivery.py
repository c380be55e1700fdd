"""payments.payment_requested reaches payments without an inbox row (`Subscription.state_guarded`,
issue 11): its payment is inserted only if the order has none, so a copy, alone or in a batch with
the first, and an old one arriving after the payment moved on (here: cancelled) change nothing."""

from collections.abc import Sequence
from typing import Any

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled
from payments.handlers import PaymentsHandlers
from payments.main import PaymentsService
from services.payments.tests.test_service_layer import payments, requested_event
from tests.service_layer import deliver as deliver_to
from tests.service_layer import order_event as wrapped
from tests.service_layer import outbox_events

__all__ = ["payments"]  # the fixture, used by name


async def deliver(service: PaymentsService, envelopes: Sequence[Envelope]) -> None:
    subscription = PaymentsHandlers(service.store, service.late, service.uncollected).subscription()
    await deliver_to(service.runtime, envelopes, subscription)


async def stored(service: PaymentsService, order_id: str) -> dict[str, Any]:
    document = await service.store.payments.find_one({"_id": order_id})
    assert document is not None
    return document


async def test_a_payment_request_delivered_again_opens_nothing_more(payments: PaymentsService) -> None:
    event = requested_event()
    requested = wrapped(event)
    await deliver(payments, [requested])
    opening = await stored(payments, event.order_id)
    assert opening["status"] == "OPENING"
    await deliver(payments, [requested, requested, requested])  # alone, then two copies in one batch
    assert await stored(payments, event.order_id) == opening
    assert await payments.store.payments.count_documents({}) == 1

    # Cancelled before its link was opened; then the old request again: not reopened.
    await deliver(payments, [wrapped(OrderCancelled(order_id=event.order_id, customer=event.customer, reason="shopper_cancelled"))])
    cancelled = await stored(payments, event.order_id)
    assert cancelled["status"] == "FAILED"
    await deliver(payments, [requested, requested])
    assert await stored(payments, event.order_id) == cancelled
    assert await outbox_events(payments.runtime.db, event.order_id) == []
    rows = await payments.runtime.db["inbox"].find().to_list()
    assert [row["type"] for row in rows] == [OrderCancelled.TYPE], "a payment request kept an inbox row"
