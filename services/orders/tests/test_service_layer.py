"""The orders service's rules on the real database without Kafka: the app and its objects come
from the composition root (`build_app`), the lifespan never runs, so nothing is consumed or
published; what would be published is read from the outbox."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo.errors import DuplicateKeyError

from beli_contracts.envelope import Envelope
from beli_contracts.values import Customer, PricedLine, SellerContact, SettledLine
from beli_runtime.clock import utcnow
from infra.tokens import mint
from orders.documents import OrderDocument
from orders.domain import group_by_seller, settle
from orders.main import OrdersService, build_app, cancel_stuck_orders
from orders.settings import OrdersSettings
from orders.store import new_order
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


async def operations_on(service: OrdersService, collection: str) -> int:
    top = await service.runtime.client.admin.command("top")
    return int(top["totals"].get(f"{service.runtime.db.name}.{collection}", {}).get("total", {}).get("count", 0))


async def writes(service: OrdersService) -> tuple[int, int]:
    """Operations so far on the orders and on the outbox."""
    return await operations_on(service, "orders"), await operations_on(service, "outbox")


async def test_placing_an_order_stores_it_with_its_event_and_a_retry_returns_the_same_order(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    client, service = orders
    key = {"Idempotency-Key": uuid.uuid4().hex}
    before = await writes(service)
    first = await client.post("/orders", json=checkout(), headers=BEARER | key)
    assert first.status_code == 201, first.text
    # One insert: the order, its claim of the key and its event are one document.
    assert [after - then for after, then in zip(await writes(service), before, strict=True)] == [1, 0]
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


async def test_checkouts_placed_together_share_their_writes_and_keep_their_own_outcomes(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    """Fifteen shoppers' checkouts at the same moment: each gets its own order and event
    (correlated to it), and the orders were inserted in fewer writes than there were checkouts (they
    shared them: checkouts.py). Then a retried request racing its first try among other
    checkouts: the pair gets one order between them, the others theirs."""
    client, service = orders

    async def place(keys: list[str]) -> list[httpx.Response]:
        posts = [
            client.post("/orders", json=checkout(quantity=1 + n % 3), headers=BEARER | {"Idempotency-Key": key})
            for n, key in enumerate(keys)
        ]
        return list(await asyncio.gather(*posts))

    keys = [uuid.uuid4().hex for _ in range(15)]
    before = await operations_on(service, "orders")
    answers = await place(keys)
    inserts = await operations_on(service, "orders") - before
    assert [answer.status_code for answer in answers] == [201] * 15, [answer.text for answer in answers]
    assert len({answer.json()["id"] for answer in answers}) == 15 and await service.store.orders.count_documents({}) == 15
    for n, answer in enumerate(answers):
        stored = await service.store.get(answer.json()["id"])
        assert stored is not None and [item["quantity"] for item in stored.items] == [1 + n % 3]
        [event] = await events(service, answer.json()["id"])
        assert event.type == "orders.order_placed" and event.correlation_id == answer.json()["id"]
    assert inserts < 15, f"{inserts} writes stored 15 orders: the checkouts did not share their writes"

    retried = uuid.uuid4().hex
    answers = await place([retried, uuid.uuid4().hex, uuid.uuid4().hex, retried])
    assert [answer.status_code for answer in answers] == [201] * 4, [answer.text for answer in answers]
    assert answers[0].json() == answers[3].json(), "the retried checkout placed a second order"
    assert await service.store.orders.count_documents({}) == 18


async def test_an_expired_key_is_free_again_and_a_live_one_is_claimed_once(orders: tuple[httpx.AsyncClient, OrdersService]) -> None:
    client, service = orders
    key = uuid.uuid4().hex
    first = await client.post("/orders", json=checkout(quantity=1), headers=BEARER | {"Idempotency-Key": key})
    claimed = (await service.store.orders.find_one({"_id": first.json()["id"]}))["idempotency"]
    assert claimed["key"].endswith(f":{key}")  # keys are per shopper
    # Still live: a checkout racing the first one (past the look-up) loses on the key itself.
    racing = service.store.claiming(new_order("ord-racing", SHOPPER, [], utcnow()), claimed["key"], "another basket", {}, utcnow())
    [refused] = await service.store.place([racing])
    assert isinstance(refused, DuplicateKeyError) and not await service.store.release(claimed["key"], utcnow())
    # Expired: the key may be used for a new order, and the first order no longer answers for it.
    expired = utcnow() - timedelta(minutes=1)
    await service.store.orders.update_one({"_id": first.json()["id"]}, {"$set": {"idempotency.expires_at": expired}})
    assert await service.store.remembered(claimed["key"]) is None
    second = await client.post("/orders", json=checkout(quantity=3), headers=BEARER | {"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"] and await service.store.orders.count_documents({}) == 2
    record = await service.store.remembered(claimed["key"])
    assert record is not None and record["order_id"] == second.json()["id"] and record["expires_at"] > utcnow()
    assert "idempotency" not in await service.store.orders.find_one({"_id": first.json()["id"]})
    # Its event is sent like any other (the relay does not run here: it is still in the order).
    assert [event.type for event in await events(service, second.json()["id"])] == ["orders.order_placed"]


async def test_keys_an_earlier_version_kept_apart_move_to_their_orders_and_still_answer_retries(
    orders: tuple[httpx.AsyncClient, OrdersService],
) -> None:
    """Before 2026-12-08 the keys had a collection of their own. At start-up the live ones move to
    their orders, so a retry after the upgrade still gets its order, not a second one; an expired
    one is dropped with the collection."""
    client, service = orders
    placed = await client.post("/orders", json=checkout(), headers=BEARER | {"Idempotency-Key": "before-the-upgrade"})
    order_id = placed.json()["id"]
    claim = (await service.store.orders.find_one_and_update({"_id": order_id}, {"$unset": {"idempotency": ""}}))["idempotency"]
    kept_apart = service.runtime.db["idempotency_keys"]
    await kept_apart.insert_one({"_id": claim.pop("key"), "order_id": order_id, "created_at": utcnow(), **claim})
    await kept_apart.insert_one(
        {"_id": "acc-x:expired", "order_id": "BNTT-GONE", "fingerprint": "f", "response": {}, "expires_at": utcnow()}
    )

    await service.store.ensure_indexes()

    again = await client.post("/orders", json=checkout(), headers=BEARER | {"Idempotency-Key": "before-the-upgrade"})
    assert again.status_code == 201 and again.json() == placed.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await service.store.orders.count_documents({}) == 1
    assert "idempotency_keys" not in await service.runtime.db.list_collection_names()


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


def seller(seller_id: str, name: str) -> SellerContact:
    return SellerContact(seller_id=seller_id, name=name, email=f"{seller_id}@umkm.example.id", phone="081200000001", regency="Ngada")


async def paid_two_seller_order(service: OrdersService, sellers: list[SellerContact]) -> str:
    """A paid order with one line from each seller, stored as the settlement leaves it."""
    lines = [
        PricedLine(product_id=f"prd-{s.seller_id}", product_name="Kopi", category="kopi", seller=s, quantity=1, unit_price=85_000)
        for s in sellers
    ]
    paid = [
        SettledLine(**line.model_dump(), levy=850, seller_payable=84_150, levy_rule_id="default", levy_rule_version=1) for line in lines
    ]
    order = OrderDocument(
        _id="BNTT-SHIP0000000001",
        status="PAID",
        customer=Customer(**SHOPPER),
        items=[{"product_id": line.product_id, "quantity": 1} for line in lines],
        created_at=utcnow(),
        sub_orders=settle(group_by_seller(lines), paid),
    )
    await service.store.orders.insert_one(order.to_document())
    return order.id


async def test_each_sellers_shipment_announces_its_shop_name(orders: tuple[httpx.AsyncClient, OrdersService]) -> None:
    """The shopper's two "dikirim" notices must tell the two parcels apart: each event names its shop."""
    client, service = orders
    sellers = [seller("slr-kopi", "Kopi Bajawa Ine Rie"), seller("slr-tenun", "Tenun Ikat Ina Sumba")]
    order_id = await paid_two_seller_order(service, sellers)
    for s in sellers:
        token = {"Authorization": f"Bearer {mint('seller', seller_id=s.seller_id, email=s.email)}"}
        body = {"courier": "JNE", "tracking_number": f"JNE-{s.seller_id}"}
        shipped = await client.post(f"/orders/{order_id}/sub-orders/{s.seller_id}/ship", json=body, headers=token)
        assert shipped.status_code == 200, shipped.text
    announced = [event.data for event in await events(service, order_id) if event.type == "orders.order_shipped"]
    assert [(data["seller_id"], data["seller_name"]) for data in announced] == [
        ("slr-kopi", "Kopi Bajawa Ine Rie"),
        ("slr-tenun", "Tenun Ikat Ina Sumba"),
    ]


async def test_the_index_no_query_uses_is_dropped_at_start_up(orders: tuple[httpx.AsyncClient, OrdersService]) -> None:
    """A database from before: the old index by the shopper's e-mail is gone after start-up (every
    write of an order paid for it), a second start is fine, and the shopper's list keeps its index."""
    _, service = orders
    await service.store.orders.create_index([("customer.email", 1), ("created_at", -1)])
    await service.store.ensure_indexes()
    await service.store.ensure_indexes()
    names = set(await service.store.orders.index_information())
    assert "customer.email_1_created_at_-1" not in names
    assert "customer.account_id_1_created_at_-1__id_-1" in names
