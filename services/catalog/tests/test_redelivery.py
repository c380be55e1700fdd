"""Catalog's saga events reach it without inbox rows (`Subscription.state_guarded`, issue 11):
an order's reservation is its state. An order_placed whose reservation exists (held, committed or
released) reserves nothing and answers nothing; an order_paid whose hold is no longer held as paid
(committed, lapsed, recommitted) sells nothing and answers nothing. A copy of either, alone or in a
batch with the first, and an old one arriving after newer events, leave the units, the
reservation, the holder's counter and what was published as they were."""

from collections.abc import Sequence
from typing import Any

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled
from catalog.main import CatalogService
from services.catalog.tests.test_stock_batches import add_product, catalog, of_type, paid, placed, published, units_of
from tests.service_layer import deliver as deliver_to
from tests.service_layer import order_event as wrapped

__all__ = ["catalog"]  # the fixture, used by name


async def deliver(service: CatalogService, envelopes: Sequence[Envelope]) -> None:
    await deliver_to(service.runtime, envelopes, service.handlers.subscription())


async def state(service: CatalogService, product_id: str) -> dict[str, Any]:
    """Everything a copy must leave as it is: the units, the reservations, the holders' counters
    and the events published."""
    db = service.runtime.db
    return {
        "units": await units_of(service, product_id),
        "reservations": await db["reservations"].find().sort("_id", 1).to_list(),
        "holders": await db["holders"].find().sort("_id", 1).to_list(),
        "published": [(event.type, event.key) for event in await published(service) if event.type != "catalog.outlet_changed"],
    }


async def test_copies_of_order_placed_and_order_paid_change_nothing(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-tenun", stock=10)
    order = wrapped(placed("BNTT-A", "ana", ("prd-tenun", 3)))
    await deliver(catalog, [order])
    assert await units_of(catalog, "prd-tenun") == (7, 3, 0)
    held = await state(catalog, "prd-tenun")
    await deliver(catalog, [order, order, order])  # alone, then two copies in one batch
    assert await state(catalog, "prd-tenun") == held

    [reserved] = of_type(await published(catalog), "catalog.stock_reserved")
    payment = wrapped(paid("BNTT-A", reserved.data["lines"]))
    await deliver(catalog, [payment])
    assert await units_of(catalog, "prd-tenun") == (7, 0, 3)
    sold = await state(catalog, "prd-tenun")
    await deliver(catalog, [payment, payment, order, payment])  # and the old order_placed after the payment
    assert await state(catalog, "prd-tenun") == sold
    assert sold["published"] == [("catalog.stock_reserved", "BNTT-A"), ("catalog.reservation_committed", "BNTT-A")]
    assert await catalog.runtime.db["inbox"].count_documents({}) == 0


async def test_an_old_order_placed_after_its_cancellation_reserves_nothing_again(catalog: CatalogService) -> None:
    await add_product(catalog, "prd-kopi", stock=4)
    order = placed("BNTT-B", "beni", ("prd-kopi", 2))
    first = wrapped(order)
    cancelled = wrapped(OrderCancelled(order_id="BNTT-B", customer=order.customer, reason="payment_expired"))
    await deliver(catalog, [first])
    [reserved] = of_type(await published(catalog), "catalog.stock_reserved")
    await deliver(catalog, [cancelled])
    assert await units_of(catalog, "prd-kopi") == (4, 0, 0)
    released = await state(catalog, "prd-kopi")
    await deliver(catalog, [first, first, wrapped(order)])  # old copies (the last under another event id)
    assert await state(catalog, "prd-kopi") == released

    # Paid after all (a late payment): the units are taken again once, a copy takes nothing more.
    late = wrapped(paid("BNTT-B", reserved.data["lines"]))
    await deliver(catalog, [late])
    assert await units_of(catalog, "prd-kopi") == (2, 0, 2)
    recommitted = await state(catalog, "prd-kopi")
    await deliver(catalog, [late, late])
    assert await state(catalog, "prd-kopi") == recommitted
    assert [kind for kind, _ in recommitted["published"]].count("catalog.reservation_committed") == 1
