"""Catalog's saga handlers on the real database without Kafka, fed through the consumer's inbox
(beli_runtime.inbox) as the running service is: events handed over at the same time share one
transaction, and its handlers share one read and one bulk write of the products they move
(stock_work.py). Counted with the server's `top`: fewer product updates than orders, while every
order still sees the units the orders before it in the batch took (nothing oversold), hold limits
count the batch's own reservations, and low-stock alerts come once per crossing. The batch's
reservations go out in one command too, and what the batch cannot settle without reading them (an
order placed again, a payment after its hold was released) comes out as it would alone."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from beli_contracts import Envelope
from beli_contracts.envelope import decode
from beli_contracts.orders import OrderCancelled, OrderPaid, OrderPlaced
from beli_contracts.values import Customer, OrderItem, SellerContact, SettledLine
from beli_runtime.clock import utcnow
from beli_runtime.outbox import events_of
from catalog.documents import ProductDocument, VariantDocument
from catalog.main import CatalogService, build_service, release_expired_reservations
from catalog.settings import CatalogSettings
from tests.service_layer import ServiceDatabase, consumer_inbox, ready

pytestmark = pytest.mark.infra  # the real database (no broker)

SELLER = SellerContact(seller_id="slr-1", name="Tenun Ina", email="ina@example.id", phone="081200000001", regency="Kupang")


@pytest.fixture
async def catalog(service_database: ServiceDatabase) -> AsyncIterator[CatalogService]:
    service = build_service(CatalogSettings(**service_database.settings()))
    async with ready(service):
        yield service


async def add_product(service: CatalogService, product_id: str, stock: int, threshold: int | None = None, **fields: Any) -> None:
    product = ProductDocument(
        id=product_id,
        name=f"Tenun {product_id}",
        category="tenun",
        price=150_000,
        stock=stock,
        low_stock_threshold=threshold,
        seller_id=SELLER.seller_id,
        seller=SELLER,
        seller_status="verified",
        regency="Kupang",
        created_at=utcnow(),
        visible=True,
        **fields,
    )
    await service.store.products.insert_one(product.to_document())


def placed(order_id: str, shopper: str, *items: tuple[str, int] | tuple[str, int, str]) -> OrderPlaced:
    customer = Customer(name=shopper, email=f"{shopper}@example.id", phone="081234567890", account_id=f"acc-{shopper}")
    lines = [OrderItem(product_id=item[0], quantity=item[1], variant_id=item[2] if len(item) > 2 else None) for item in items]
    return OrderPlaced(order_id=order_id, customer=customer, items=lines, placed_at=utcnow())


Saga = OrderPlaced | OrderPaid | OrderCancelled


async def handle_together(service: CatalogService, events: Sequence[Saga]) -> None:
    """The events submitted at the same time, as a consumer's partitions hand them over: the
    first batch takes them all (the group commit's writer starts after every submission)."""
    subscription = service.handlers.subscription()
    runtime = service.runtime
    inbox = consumer_inbox(runtime, subscription, writers=2)
    envelopes = [Envelope.wrap(event, key=event.order_id, source="orders") for event in events]
    await asyncio.gather(
        *(inbox.apply(envelope, event, subscription.handlers[envelope.type]) for envelope, event in zip(envelopes, events, strict=True))
    )


async def commands(service: CatalogService, collection: str, kind: str) -> int:
    """Commands of a kind (update, queries, ...) the database received for one collection (`top`)."""
    top = await service.runtime.client.admin.command("top")
    return int(top["totals"].get(f"{service.runtime.db.name}.{collection}", {}).get(kind, {}).get("count", 0))


async def published(service: CatalogService) -> list[Envelope]:
    rows = await service.runtime.db["outbox"].find().sort([("created_at", 1), ("_id", 1)]).to_list()
    return [decode(bytes(event["value"])) for row in rows for event in events_of(row)]


async def units_of(service: CatalogService, product_id: str) -> tuple[int, int, int]:
    product = await service.store.product(product_id)
    assert product is not None
    return product.stock, product.reserved, product.sold


def of_type(events: list[Envelope], kind: str) -> list[Envelope]:
    return [event for event in events if event.type == kind]


async def test_orders_of_one_product_in_one_transaction_share_its_read_and_write_and_none_is_oversold(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-ikat", stock=5, threshold=3)
    before = await commands(catalog, "products", "update")
    orders = [placed(f"BNTT-{n}", f"shopper{n}", ("prd-ikat", 1)) for n in range(8)]
    await handle_together(catalog, orders)

    updates = await commands(catalog, "products", "update") - before
    events = await published(catalog)
    reserved = [event.key for event in of_type(events, "catalog.stock_reserved")]
    assert updates < len(reserved), f"{updates} product updates for {len(reserved)} orders reserved together"
    assert await units_of(catalog, "prd-ikat") == (0, 5, 0)
    assert reserved == [f"BNTT-{n}" for n in range(5)]
    rejected = of_type(events, "catalog.stock_rejected")
    assert [event.key for event in rejected] == [f"BNTT-{n}" for n in range(5, 8)]
    assert all(event.data["lines"][0]["reason"] == "insufficient_stock" for event in rejected)
    [low] = of_type(events, "catalog.stock_low")  # once, when 3 -> 2 crossed the threshold
    assert low.data["stock"] == 2


async def test_a_batch_of_payments_cancellations_and_new_orders_moves_each_unit_once(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-kopi", stock=4, threshold=2)
    variants = [VariantDocument(id="var-m", name="M", price=90_000, stock=4), VariantDocument(id="var-l", name="L", price=95_000, stock=3)]
    await add_product(catalog, "prd-selendang", stock=7, variants=variants)
    first = [
        placed("BNTT-A", "ana", ("prd-kopi", 2), ("prd-selendang", 2, "var-m")),
        placed("BNTT-B", "beni", ("prd-kopi", 1), ("prd-selendang", 1, "var-m")),
        placed("BNTT-C", "citra", ("prd-kopi", 1)),
    ]
    await handle_together(catalog, first)
    assert await units_of(catalog, "prd-kopi") == (0, 4, 0)
    reserved = {event.key: event.data["lines"] for event in of_type(await published(catalog), "catalog.stock_reserved")}
    assert sorted(reserved) == ["BNTT-A", "BNTT-B", "BNTT-C"]

    before = await commands(catalog, "products", "update")
    second: list[Saga] = [
        paid("BNTT-A", reserved["BNTT-A"]),
        OrderCancelled(order_id="BNTT-C", customer=first[2].customer, reason="shopper_cancelled"),
        placed("BNTT-D", "dewi", ("prd-kopi", 1), ("prd-selendang", 1, "var-m")),  # the unit C gave back
        placed("BNTT-E", "eka", ("prd-kopi", 1)),  # none left
        paid("BNTT-B", reserved["BNTT-B"]),
    ]
    await handle_together(catalog, second)

    assert await commands(catalog, "products", "update") - before == 1, "one bulk write of the products for the batch"
    assert await units_of(catalog, "prd-kopi") == (0, 1, 3)  # A's 2 and B's 1 sold, D holds the unit C gave back
    selendang = await catalog.store.product("prd-selendang")
    assert selendang is not None and (selendang.stock, selendang.reserved, selendang.sold) == (3, 1, 3)  # totals of the variants
    assert [(v.id, v.stock, v.reserved, v.sold) for v in selendang.variants] == [("var-m", 0, 1, 3), ("var-l", 3, 0, 0)]
    events = await published(catalog)
    assert sorted(event.key for event in of_type(events, "catalog.reservation_committed")) == ["BNTT-A", "BNTT-B"]
    assert [event.key for event in of_type(events, "catalog.reservation_released")] == ["BNTT-C"]
    assert "BNTT-D" in {event.key for event in of_type(events, "catalog.stock_reserved")}
    assert [event.key for event in of_type(events, "catalog.stock_rejected")] == ["BNTT-E"]
    # kopi alerted once, when B took it below 2: C's unit back (1, still low) re-armed nothing, D took it silently
    assert [(event.key, event.data["stock"]) for event in of_type(events, "catalog.stock_low")] == [("prd-kopi", 1)]


async def test_hold_limits_count_the_reservations_made_earlier_in_the_same_transaction(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-madu", stock=100)
    limit = catalog.handlers.limits.per_product
    await handle_together(catalog, [placed("BNTT-1", "hoarder", ("prd-madu", limit)), placed("BNTT-2", "hoarder", ("prd-madu", 1))])

    assert await units_of(catalog, "prd-madu") == (100 - limit, limit, 0)
    [rejected] = of_type(await published(catalog), "catalog.stock_rejected")
    assert rejected.key == "BNTT-2" and rejected.data["lines"][0]["reason"] == "hold_limit"


async def test_an_order_placed_twice_in_one_batch_reserves_once(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-tenun", stock=10)
    order = placed(f"BNTT-{uuid.uuid4().hex[:6]}", "maria", ("prd-tenun", 3))
    again = order.model_copy()  # a second event of the same order (another event id)
    await handle_together(catalog, [order, again])

    assert await units_of(catalog, "prd-tenun") == (7, 3, 0)
    assert len(of_type(await published(catalog), "catalog.stock_reserved")) == 1


async def test_the_reservations_of_one_transaction_are_written_with_one_command(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-sarung", stock=20)
    before = await commands(catalog, "reservations", "update")
    await handle_together(catalog, [placed(f"BNTT-R{n}", f"shopper{n}", ("prd-sarung", 2)) for n in range(4)])
    assert await commands(catalog, "reservations", "update") - before == 1, "one bulk write for four new reservations"

    reserved = {event.key: event.data["lines"] for event in of_type(await published(catalog), "catalog.stock_reserved")}
    assert sorted(reserved) == [f"BNTT-R{n}" for n in range(4)]
    before = await commands(catalog, "reservations", "update")
    await handle_together(catalog, [paid(order_id, lines) for order_id, lines in reserved.items()])
    assert await commands(catalog, "reservations", "update") - before == 1, "one bulk write commits the four"

    assert await units_of(catalog, "prd-sarung") == (12, 0, 8)
    assert sorted(event.key for event in of_type(await published(catalog), "catalog.reservation_committed")) == sorted(reserved)
    statuses = await catalog.store.reservations.distinct("status", {"_id": {"$in": list(reserved)}})
    assert statuses == ["committed"]


async def test_an_order_placed_again_in_a_later_batch_moves_no_stock(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-tenun", stock=10)
    order = placed("BNTT-X", "maria", ("prd-tenun", 3))
    await handle_together(catalog, [order, placed("BNTT-Y", "yohan", ("prd-tenun", 1))])
    # The same order again (another event id) among new ones: those are reserved, it changes nothing.
    await handle_together(catalog, [order.model_copy(), placed("BNTT-Z", "zet", ("prd-tenun", 2))])

    assert await units_of(catalog, "prd-tenun") == (4, 6, 0)
    assert sorted(event.key for event in of_type(await published(catalog), "catalog.stock_reserved")) == ["BNTT-X", "BNTT-Y", "BNTT-Z"]
    [seen] = await catalog.store.reservations.find({"_id": "BNTT-X"}).to_list()
    assert seen["status"] == "held" and seen["lines"][0]["quantity"] == 3


async def test_payments_in_one_batch_after_a_hold_was_released_lapse_or_commit_each_as_alone(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-kopi", stock=3)
    first = [placed("BNTT-A", "ana", ("prd-kopi", 2)), placed("BNTT-B", "beni", ("prd-kopi", 1))]
    await handle_together(catalog, first)
    reserved = {event.key: event.data["lines"] for event in of_type(await published(catalog), "catalog.stock_reserved")}
    # A's hold ends unpaid: the sweeper releases it (no consumer's scope)
    await catalog.store.reservations.update_one({"_id": "BNTT-A"}, {"$set": {"expires_at": utcnow() - timedelta(minutes=1)}})
    assert await release_expired_reservations(catalog)
    await handle_together(catalog, [placed("BNTT-C", "citra", ("prd-kopi", 2))])  # takes A's units
    assert await units_of(catalog, "prd-kopi") == (0, 3, 0)

    await handle_together(catalog, [paid("BNTT-A", reserved["BNTT-A"]), paid("BNTT-B", reserved["BNTT-B"])])

    assert await units_of(catalog, "prd-kopi") == (0, 2, 1)  # B sold, C still held, A's units gone
    events = await published(catalog)
    assert [event.key for event in of_type(events, "catalog.reservation_lapsed")] == ["BNTT-A"]
    assert [event.key for event in of_type(events, "catalog.reservation_committed")] == ["BNTT-B"]


async def test_a_cancellation_in_the_batch_that_placed_the_order_releases_it(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-madu", stock=5)
    order = placed("BNTT-D", "dewi", ("prd-madu", 2))
    cancelled = OrderCancelled(order_id="BNTT-D", customer=order.customer, reason="shopper_cancelled")
    await handle_together(catalog, [order, cancelled, placed("BNTT-E", "eka", ("prd-madu", 1))])

    assert await units_of(catalog, "prd-madu") == (4, 1, 0)
    events = await published(catalog)
    assert [event.key for event in of_type(events, "catalog.reservation_released")] == ["BNTT-D"]
    assert sorted(event.key for event in of_type(events, "catalog.stock_reserved")) == ["BNTT-D", "BNTT-E"]


def paid(order_id: str, lines: list[dict[str, Any]]) -> OrderPaid:
    settled = [
        SettledLine.model_validate(line | {"levy": 0, "seller_payable": 0, "levy_rule_id": "r", "levy_rule_version": 1}) for line in lines
    ]
    customer = Customer(name="x", email="x@example.id", phone="081234567890")
    return OrderPaid(order_id=order_id, customer=customer, gross_amount=sum(line.subtotal for line in settled), lines=settled)
