"""The saga's events reach orders without inbox rows (`Subscription.state_guarded`, issue 11):
each is idempotent by the order's state. A copy of an event, in a later transaction or in the
same batch as the first, and an old event arriving after newer ones change nothing a shopper or
another service would notice: the order's state and fields stay as they were, nothing more is
published, and a repeated settlement is not taken for money arriving after a cancellation."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from beli_contracts.catalog import RejectedLine, StockRejected, StockReserved
from beli_contracts.payments import PaymentFailed
from beli_runtime.clock import utcnow
from orders import handlers as orders_handlers
from orders.main import OrdersService
from services.orders.tests.test_unit_of_work import BEARER, LINE, link, orders, place, settled
from tests.service_layer import deliver, order_event, outbox_events

pytestmark = pytest.mark.infra  # the real database (no broker)
__all__ = ["orders"]  # the fixture, used by name

Orders = tuple[httpx.AsyncClient, OrdersService]


async def stored(service: OrdersService, order_id: str) -> dict[str, Any]:
    """The order as stored, every field (its `updated_at` and history too)."""
    document = await service.store.orders.find_one({"_id": order_id})
    assert document is not None
    return document


async def published(service: OrdersService, order_id: str) -> list[str]:
    return [event.type for event in await outbox_events(service.runtime.db, order_id)]


class Warnings:
    """The handlers' log, recording its warnings."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append(event)

    def error(self, event: str, **fields: Any) -> None:
        self.events.append(event)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> Warnings:
    recorder = Warnings()
    monkeypatch.setattr(orders_handlers, "log", recorder)
    return recorder


async def test_each_saga_event_delivered_again_changes_nothing(orders: Orders, warnings: Warnings) -> None:
    client, service = orders
    [order_id] = await place(client, 1)
    reserved = order_event(StockReserved(order_id=order_id, lines=[LINE], expires_at=utcnow() + timedelta(minutes=30)))
    linked, paid = order_event(link(order_id)), order_event(settled(order_id))
    steps = [
        (reserved, "AWAITING_PAYMENT", "orders.payment_requested"),
        (linked, "AWAITING_PAYMENT", None),
        (paid, "PAID", "orders.order_paid"),
    ]
    expected = ["orders.order_placed"]
    for event, status, announced in steps:
        await deliver(service.runtime, [event])
        first = await stored(service, order_id)
        expected += [announced] if announced else []
        assert first["status"] == status and await published(service, order_id) == expected
        # Redelivered: alone, then two copies in one batch.
        await deliver(service.runtime, [event, event, event])
        assert await stored(service, order_id) == first, f"a copy of {event.type} changed the order"
        assert await published(service, order_id) == expected, f"a copy of {event.type} published again"

    # Old events arriving after the order was paid, and a link other than the one shown.
    paid_order = await stored(service, order_id)
    other_link = link(order_id).model_copy(update={"token": "snap-other", "redirect_url": "https://app.midtrans.example/other"})
    await deliver(service.runtime, [reserved, order_event(other_link), linked, reserved])
    assert await stored(service, order_id) == paid_order
    assert paid_order["payment"]["token"] == f"snap-{order_id}"
    assert await published(service, order_id) == ["orders.order_placed", "orders.payment_requested", "orders.order_paid"]
    assert warnings.events == [], "a repeated settlement was logged as a payment after a cancellation"
    assert await service.runtime.db["inbox"].count_documents({}) == 0
    view = (await client.get(f"/orders/{order_id}", headers=BEARER)).json()
    assert [entry["status"] for entry in view["history"]] == ["PENDING", "AWAITING_PAYMENT", "PAID"]


async def test_copies_of_the_events_that_end_an_unpaid_order_change_nothing(orders: Orders, warnings: Warnings) -> None:
    client, service = orders
    rejected_id, failed_id = await place(client, 2)
    rejected = order_event(
        StockRejected(
            order_id=rejected_id, lines=[RejectedLine(product_id=LINE.product_id, requested=2, available=1, reason="insufficient_stock")]
        )
    )
    reserved = order_event(StockReserved(order_id=failed_id, lines=[LINE], expires_at=utcnow() + timedelta(minutes=30)))
    failed = order_event(PaymentFailed(order_id=failed_id, transaction_status="expire", reason="Snap expired"))
    await deliver(service.runtime, [rejected, reserved])
    await deliver(service.runtime, [failed])
    ended = {order_id: await stored(service, order_id) for order_id in (rejected_id, failed_id)}
    assert (ended[rejected_id]["status"], ended[failed_id]["status"]) == ("REJECTED", "CANCELLED")

    # Copies, and an old reservation arriving after the cancellation.
    await deliver(service.runtime, [rejected, failed, rejected, failed, reserved])
    for order_id, document in ended.items():
        assert await stored(service, order_id) == document
    assert await published(service, rejected_id) == ["orders.order_placed", "orders.order_rejected"]
    assert await published(service, failed_id) == ["orders.order_placed", "orders.payment_requested", "orders.order_cancelled"]

    # Money for the cancelled order is still told apart (payments returns it).
    await deliver(service.runtime, [order_event(settled(failed_id))])
    assert warnings.events == ["orders.paid_after_cancel"]
    assert await stored(service, failed_id) == ended[failed_id]
