"""The events of one consumer transaction read their orders with one find and write them with one
bulk write (OrdersStore.unit_of_work, issue 11), on the real database through the consumer's inbox
as the running service wires it, and decide exactly what they decided one at a time: an order
moved twice in one batch keeps both changes, and a late settlement of a cancelled order changes
nothing."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from beli_contracts import Envelope, EventPayload
from beli_contracts.catalog import StockReserved
from beli_contracts.payments import PaymentLinkCreated, PaymentSettled
from beli_contracts.values import Customer, PricedLine, SellerContact, SettledLine
from beli_runtime.clock import utcnow
from infra.tokens import mint
from orders.main import OrdersService, build_app
from orders.settings import OrdersSettings
from tests.service_layer import ServiceDatabase, consumer_inbox, outbox_events, serving

pytestmark = pytest.mark.infra  # the real database (no broker)

SHOPPER = {"name": "Yohana Lende", "email": "yohana.lende@nttprov.example.id", "phone": "081234567891"}
BEARER = {"Authorization": f"Bearer {mint('shopper', email=SHOPPER['email'], phone=SHOPPER['phone'])}"}
SELLER = SellerContact(seller_id="slr-kopi", name="Kopi Bajawa", email="kopi@umkm.example.id", phone="081200000001", regency="Ngada")
LINE = PricedLine(product_id="prd-kopi", product_name="Kopi Bajawa", category="kopi", seller=SELLER, quantity=2, unit_price=85_000)


@pytest.fixture
async def orders(service_database: ServiceDatabase) -> AsyncIterator[tuple[httpx.AsyncClient, OrdersService]]:
    app = build_app(OrdersSettings(**service_database.settings()))
    async with serving(app) as client:
        yield client, app.state.service


async def place(client: httpx.AsyncClient, count: int) -> list[str]:
    body = {"customer": {"name": SHOPPER["name"]}, "items": [{"product_id": LINE.product_id, "quantity": LINE.quantity}]}
    ids = []
    for _ in range(count):
        placed = await client.post("/orders", json=body, headers=BEARER | {"Idempotency-Key": uuid.uuid4().hex})
        assert placed.status_code == 201, placed.text
        ids.append(placed.json()["id"])
    return ids


async def consumed_together(service: OrdersService, payloads: list[EventPayload]) -> int:
    """Hand the events to the inbox as the consumer's partitions do (at once: one writer takes
    the first alone and the rest as one batch); the operations the orders collection received."""
    [consumer] = service.runtime.consumers
    subscription = consumer.subscription
    runtime = service.runtime
    inbox = consumer_inbox(runtime, subscription)
    before = await operations_on_orders(service)

    async def apply(payload: EventPayload) -> bool:
        envelope = Envelope.wrap(payload, key=payload.order_id, source="test")  # type: ignore[attr-defined]
        return await inbox.apply(envelope, payload, subscription.handlers[payload.TYPE])

    await asyncio.gather(*(apply(payload) for payload in payloads))
    return await operations_on_orders(service) - before


async def operations_on_orders(service: OrdersService) -> int:
    top = await service.runtime.client.admin.command("top")
    return int(top["totals"].get(f"{service.runtime.db.name}.orders", {}).get("total", {}).get("count", 0))


def settled(order_id: str) -> PaymentSettled:
    line = SettledLine(**LINE.model_dump(), levy=1_700, seller_payable=168_300, levy_rule_id="default", levy_rule_version=1)
    return PaymentSettled(
        order_id=order_id,
        customer=Customer(**SHOPPER),
        lines=[line],
        gross_amount=170_000,
        levy_total=1_700,
        seller_payable_total=168_300,
        payment_type="qris",
        transaction_id=f"trx-{order_id}",
        settled_at=utcnow(),
    )


def link(order_id: str) -> PaymentLinkCreated:
    return PaymentLinkCreated(
        order_id=order_id,
        customer=Customer(**SHOPPER),
        lines=[LINE],
        gross_amount=170_000,
        token=f"snap-{order_id}",
        redirect_url=f"https://app.midtrans.example/snap/{order_id}",
        pay_before=utcnow() + timedelta(minutes=30),
    )


async def status_of(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    return (await client.get(f"/orders/{order_id}", headers=BEARER)).json()


async def test_a_batch_of_events_reads_and_writes_its_orders_together_and_decides_as_one_at_a_time(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    client, service = orders
    ids = await place(client, 5)
    expires = utcnow() + timedelta(minutes=30)
    operations = await consumed_together(service, [StockReserved(order_id=i, lines=[LINE], expires_at=expires) for i in ids])
    # One at a time: a find and a findAndModify per order (10); the first alone and the other four
    # together: 2 + 2.
    assert operations <= 4, f"{operations} operations on orders for 5 reservations"
    for order_id in ids:
        order = await status_of(client, order_id)
        assert (order["status"], order["total"]) == ("AWAITING_PAYMENT", 170_000)
        assert [e.type for e in await outbox_events(service.runtime.db, order_id)] == ["orders.order_placed", "orders.payment_requested"]

    # The shopper cancels the last order; then links for all, and settlements for two of them:
    # the first order's link and settlement in one batch, the cancelled one's late settlement.
    cancelled = await client.post(f"/orders/{ids[4]}/cancel", headers=BEARER)
    assert cancelled.status_code == 200, cancelled.text
    await consumed_together(service, [link(i) for i in ids[:2]] + [settled(ids[0]), link(ids[2]), settled(ids[4])])

    paid = await status_of(client, ids[0])
    assert paid["status"] == "PAID" and paid["levy_total"] == 1_700
    assert paid["payment"]["token"] == f"snap-{ids[0]}", "the link written earlier in the batch was lost by the settlement"
    assert [entry["status"] for entry in paid["history"]] == ["PENDING", "AWAITING_PAYMENT", "PAID"]
    for order_id in ids[1:3]:
        waiting = await status_of(client, order_id)
        assert (waiting["status"], waiting["payment"]["token"]) == ("AWAITING_PAYMENT", f"snap-{order_id}")
    late = await status_of(client, ids[4])
    assert late["status"] == "CANCELLED" and late["payment"] is None
    assert "orders.order_paid" not in [e.type for e in await outbox_events(service.runtime.db, ids[4])]
    assert [e.type for e in await outbox_events(service.runtime.db, ids[0])][-1] == "orders.order_paid"
