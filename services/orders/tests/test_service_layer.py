"""The orders service's rules on the real database without Kafka: the app and its objects come
from the composition root (`build_app`), the lifespan never runs, so nothing is consumed or
published; what would be published is read from the outbox."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from beli_contracts.envelope import Envelope
from infra.tokens import mint
from orders.main import OrdersService, build_app, cancel_stuck_orders
from orders.settings import OrdersSettings
from tests.service_layer import ServiceDatabase, outbox_events, serving

pytestmark = pytest.mark.infra  # the real database (no broker)

SHOPPER = {"name": "Maria Bere", "email": "maria.bere@nttprov.example.id", "phone": "081234567890"}
BEARER = {"Authorization": f"Bearer {mint('shopper', email=SHOPPER['email'], phone=SHOPPER['phone'])}"}


@pytest.fixture
async def orders(service_database: ServiceDatabase) -> AsyncIterator[tuple[httpx.AsyncClient, OrdersService]]:
    # No pending timeout: every PENDING order is stuck at once, for the sweeper's test.
    app = build_app(OrdersSettings(**service_database.settings(), pending_timeout_minutes=0))
    async with serving(app) as client:
        yield client, app.state.service


def checkout(quantity: int = 2) -> dict[str, Any]:
    return {"customer": {"name": SHOPPER["name"]}, "items": [{"product_id": "prd-tenun-ikat", "quantity": quantity}]}


async def events(service: OrdersService, order_id: str) -> list[Envelope]:
    return await outbox_events(service.runtime.db, order_id)


async def test_placing_an_order_stores_it_with_its_event_and_a_retry_returns_the_same_order(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    client, service = orders
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/orders", json=checkout(), headers=BEARER | key)
    assert first.status_code == 201, first.text
    order_id = first.json()["id"]
    stored = await service.store.get(order_id)
    assert stored is not None and stored.status == "PENDING"
    assert stored.customer.email == SHOPPER["email"]  # from the signed token, not the body
    [placed] = await events(service, order_id)
    assert placed.type == "orders.order_placed" and [(item["product_id"], item["quantity"]) for item in placed.data["items"]] == [
        ("prd-tenun-ikat", 2)
    ]

    again = await client.post("/orders", json=checkout(), headers=BEARER | key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await service.store.orders.count_documents({}) == 1
    assert len(await events(service, order_id)) == 1  # the retry announced nothing


async def test_the_same_key_with_another_basket_is_refused_and_names_the_first_order(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    client, service = orders
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/orders", json=checkout(quantity=1), headers=BEARER | key)
    other = await client.post("/orders", json=checkout(quantity=3), headers=BEARER | key)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["message"] and other.json()["order_id"] == first.json()["id"]
    assert await service.store.orders.count_documents({}) == 1


async def test_an_order_the_catalog_never_answered_is_cancelled_by_the_sweeper(orders: tuple[httpx.AsyncClient, OrdersService]) -> None:
    client, service = orders
    placed = await client.post("/orders", json=checkout(), headers=BEARER | {"Idempotency-Key": uuid.uuid4().hex})
    order_id = placed.json()["id"]

    assert await cancel_stuck_orders(service) is True
    order = (await client.get(f"/orders/{order_id}", headers=BEARER)).json()
    assert order["status"] == "CANCELLED"
    cancelled = (await events(service, order_id))[-1]
    assert cancelled.type == "orders.order_cancelled" and cancelled.data["reason"] == "checkout_timeout"
    assert await cancel_stuck_orders(service) is False  # nothing left to cancel, nothing announced twice
    assert [event.type for event in await events(service, order_id)] == ["orders.order_placed", "orders.order_cancelled"]
