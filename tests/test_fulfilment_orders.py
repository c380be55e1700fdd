"""Multi-seller orders and their fulfilment (issue #4, the orders side), end to end on real Kafka,
the database and every service: one payment, one sub-order per seller with its own levy and
payable, sellers' order lists, shipping, the shopper's confirmation and auto-completion."""

import asyncio
import time
import uuid
from typing import Any

import httpx

from beli_contracts import Envelope
from beli_contracts.topics import ORDERS_EVENTS
from infra.apps import start_app
from payments.domain import levy_for
from tests.support import Api, System, eventually, read_events

# --- the fulfilment endpoints, as a seller and a shopper use them ---------------------------


async def place_items(api: Api, items: list[dict[str, Any]], customer: dict[str, str]) -> str:
    response = await api.orders.post(
        "/orders", json={"customer": customer, "items": items}, headers={"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(customer)}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def ship(api: Api, order_id: str, seller_id: str, courier: str, tracking_number: str) -> httpx.Response:
    return await api.orders.post(
        f"/orders/{order_id}/sub-orders/{seller_id}/ship", json={"courier": courier, "tracking_number": tracking_number}
    )


async def confirm(api: Api, order_id: str, seller_id: str) -> httpx.Response:
    return await api.orders.post(f"/orders/{order_id}/sub-orders/{seller_id}/confirm")


async def seller_orders(api: Api, seller_id: str, **params: Any) -> dict[str, Any]:
    response = await api.orders.get(f"/sellers/{seller_id}/orders", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def paid_order(api: Api, items: list[dict[str, Any]], customer: dict[str, str]) -> dict[str, Any]:
    order_id = await place_items(api, items, customer)
    assert (await api.payable(order_id))["status"] == "AWAITING_PAYMENT"
    await api.pay(order_id)
    return await api.order_reaches(order_id, "PAID")


async def order_events(
    system: System, order_id: str, event_type: str, *, count: int, settle: float = 1.0, timeout: float = 30.0
) -> list[Envelope]:
    """The order's events of one type on `orders.events`; exactly `count` of them."""
    found = await read_events(
        system.endpoints.kafka_bootstrap,
        ORDERS_EVENTS,
        lambda e: e.key == order_id and e.type == event_type,
        count=count,
        timeout=timeout,
        settle=settle,
    )
    assert len(found) == count, f"expected {count} {event_type} for {order_id}, got {len(found)}"
    return found


# --- tests ----------------------------------------------------------------------------------


async def test_two_sellers_one_payment_two_sub_orders_shipped_confirmed_completed(api: Api, system: System) -> None:
    weaver = await api.seller("Sumba Timur")
    roaster = await api.seller("Ngada")
    hinggi = await api.listing(
        weaver,
        name="Hinggi Sumba",
        category="tenun",
        variants=[{"name": "Merah", "price": 650_000, "stock": 2}, {"name": "Biru", "price": 600_000, "stock": 3}],
    )
    red = hinggi["variants"][0]["id"]
    scarf = await api.product(weaver, price=600_000, stock=5, category="tenun", name="Selendang tenun Sumba")
    coffee = await api.product(roaster, price=85_050, stock=40, category="kopi", name="Kopi Arabika Bajawa 250 g")
    shopper = api.shopper()

    # (Two variants of one product in one order are left out: payments' levy entry ids are
    # per product, not per variant, and refuse the second line; reported with this work.)
    order_id = await place_items(
        api,
        [
            {"product_id": hinggi["id"], "variant_id": red, "quantity": 1},
            {"product_id": scarf["id"], "quantity": 2},
            {"product_id": coffee["id"], "quantity": 3},
        ],
        shopper,
    )
    priced = await api.payable(order_id)
    assert {(i["product_id"], i["variant_id"], i["unit_price"]) for i in priced["items"]} == {
        (hinggi["id"], red, 650_000),
        (scarf["id"], None, 600_000),
        (coffee["id"], None, 85_050),
    }
    assert [(s["seller_id"], s["status"], s["gross"], s["levy"]) for s in priced["sub_orders"]] == [
        (weaver["id"], "AWAITING_PAYMENT", 1_850_000, None),
        (roaster["id"], "AWAITING_PAYMENT", 255_150, None),
    ]
    assert (await seller_orders(api, weaver["id"], status="PAID"))["items"] == []  # nothing to ship before payment

    await api.pay(order_id)
    paid = await api.order_reaches(order_id, "PAID")
    tenun_part, coffee_part = paid["sub_orders"]
    assert tenun_part["seller_name"] == weaver["name"] and coffee_part["seller_name"] == roaster["name"]
    assert sorted(
        (line["product_id"], line["variant_id"], line["subtotal"], line["levy"], line["seller_payable"]) for line in tenun_part["lines"]
    ) == sorted([(hinggi["id"], red, 650_000, 6_500, 643_500), (scarf["id"], None, 1_200_000, 12_000, 1_188_000)])
    assert (tenun_part["status"], tenun_part["gross"], tenun_part["levy"], tenun_part["seller_payable"]) == (
        "PAID",
        1_850_000,
        18_500,
        1_831_500,
    )
    assert (coffee_part["gross"], coffee_part["levy"], coffee_part["seller_payable"]) == (255_150, levy_for(255_150, 100), 252_598)
    # The sub-orders add up to the order, and to what the payments ledger recorded.
    assert sum(s["gross"] for s in paid["sub_orders"]) == paid["total"] == 2_105_150
    assert sum(s["levy"] for s in paid["sub_orders"]) == paid["levy_total"] == (await api.levy_entries(order_id))["total_levy"]
    assert sum(s["levy"] + s["seller_payable"] for s in paid["sub_orders"]) == paid["total"]

    # Each seller sees only their part, and whom to deliver it to.
    [mine] = (await seller_orders(api, roaster["id"], status="PAID"))["items"]
    assert (mine["order_id"], mine["status"], mine["order_status"]) == (order_id, "PAID", "PAID")
    assert [line["product_id"] for line in mine["lines"]] == [coffee["id"]]
    assert mine["customer"] == {"name": shopper["name"], "phone": shopper["phone"]}
    assert (mine["gross"], mine["levy"], mine["seller_payable"]) == (255_150, 2_552, 252_598)

    too_early = await confirm(api, order_id, weaver["id"])
    assert too_early.status_code == 409 and "is PAID" in too_early.json()["message"]

    shipped = await ship(api, order_id, weaver["id"], "JNE", "JNE0012345678")
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["tracking_number"]) == ("SHIPPED", "JNE0012345678")
    again = await ship(api, order_id, weaver["id"], "JNE", "JNE0012345678")
    assert again.status_code == 200 and again.json()["shipped_at"] == shipped.json()["shipped_at"]  # a retry, not a new shipment
    other = await ship(api, order_id, weaver["id"], "JNE", "JNE9999999999")
    assert other.status_code == 409 and "already SHIPPED" in other.json()["message"]
    assert (await ship(api, order_id, roaster["id"], "SiCepat", "SCP000777")).status_code == 200
    assert (await api.order(order_id))["status"] == "PAID"  # shipped parcels do not complete the order

    events = await order_events(system, order_id, "orders.order_shipped", count=2)
    assert sorted((e.data["seller_id"], e.data["courier"], e.data["tracking_number"]) for e in events) == sorted(
        [(weaver["id"], "JNE", "JNE0012345678"), (roaster["id"], "SiCepat", "SCP000777")]
    )
    assert all(e.data["customer"]["email"] == shopper["email"] for e in events)

    first = await confirm(api, order_id, weaver["id"])
    assert first.status_code == 200 and first.json()["status"] == "PAID"
    assert [s["status"] for s in first.json()["sub_orders"]] == ["COMPLETED", "SHIPPED"]
    last = await confirm(api, order_id, roaster["id"])
    assert last.status_code == 200 and last.json()["status"] == "COMPLETED"
    assert {s["completed_by"] for s in last.json()["sub_orders"]} == {"shopper"}
    assert (await confirm(api, order_id, roaster["id"])).status_code == 200  # confirming twice is not an error

    completed = await order_events(system, order_id, "orders.order_completed", count=2)
    assert sorted((e.data["seller"]["seller_id"], e.data["gross"], e.data["levy"], e.data["seller_payable"]) for e in completed) == sorted(
        [(weaver["id"], 1_850_000, 18_500, 1_831_500), (roaster["id"], 255_150, 2_552, 252_598)]
    )
    assert (await api.order(order_id))["status"] == "COMPLETED"
    assert [o["order_id"] for o in (await seller_orders(api, weaver["id"], status="COMPLETED"))["items"]] == [order_id]

    late = await ship(api, order_id, roaster["id"], "SiCepat", "SCP000888")
    assert late.status_code == 409 and "COMPLETED" in late.json()["message"]
    stranger = await ship(api, order_id, "slr-nobody", "JNE", "JNE0001")
    assert stranger.status_code == 404 and "slr-nobody" in stranger.json()["message"]
    missing = await confirm(api, "BNTT-NOPE", weaver["id"])
    assert missing.status_code == 404 and "BNTT-NOPE" in missing.json()["message"]


async def test_seller_lists_newest_first_by_pages_and_bad_transitions_are_refused(api: Api) -> None:
    seller = await api.seller("Kupang")
    salt = await api.product(seller, price=15_000, stock=50, category="garam", name="Garam Kupang 1 kg")
    shopper = api.shopper()
    orders = [(await paid_order(api, [{"product_id": salt["id"], "quantity": n}], shopper))["id"] for n in (1, 2, 3)]
    cancelled = await place_items(api, [{"product_id": salt["id"], "quantity": 4}], shopper)
    await api.payable(cancelled)
    assert (await api.orders.post(f"/orders/{cancelled}/cancel")).status_code == 200

    first = await seller_orders(api, seller["id"], limit=2)
    assert [o["order_id"] for o in first["items"]] == [cancelled, orders[2]]
    second = await seller_orders(api, seller["id"], limit=2, cursor=first["next_cursor"])
    assert [o["order_id"] for o in second["items"]] == [orders[1], orders[0]]
    assert second["next_cursor"] is None or (await seller_orders(api, seller["id"], cursor=second["next_cursor"]))["items"] == []
    assert [o["order_id"] for o in (await seller_orders(api, seller["id"], status="PAID"))["items"]] == orders[::-1]
    assert [(o["status"], o["order_status"]) for o in (await seller_orders(api, seller["id"], status="CANCELLED"))["items"]] == [
        ("CANCELLED", "CANCELLED")
    ]
    bad_cursor = await api.orders.get(f"/sellers/{seller['id']}/orders", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    bad_status = await api.orders.get(f"/sellers/{seller['id']}/orders", params={"status": "LOST"})
    assert bad_status.status_code == 422

    refused = await ship(api, cancelled, seller["id"], "JNE", "JNE0001")
    assert refused.status_code == 409 and "is CANCELLED" in refused.json()["message"]
    rejected = await place_items(api, [{"product_id": salt["id"], "quantity": 999}], shopper)
    await api.order_reaches(rejected, "REJECTED")
    no_parts = await ship(api, rejected, seller["id"], "JNE", "JNE0001")
    assert no_parts.status_code == 409 and "REJECTED" in no_parts.json()["message"]
    blank = await ship(api, orders[0], seller["id"], "JNE", "")
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "tracking_number"
    twice = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(shopper)},
        json={"customer": shopper, "items": [{"product_id": salt["id"], "quantity": 1}, {"product_id": salt["id"], "quantity": 2}]},
    )
    assert twice.status_code == 422 and "more than once" in twice.json()["message"]


async def test_simultaneous_changes_to_one_order_are_all_kept(api: Api, system: System) -> None:
    """Both sellers ship, then both parcels are confirmed, at the same moment: no change is lost,
    the order completes once, one event per sub-order."""
    sellers = [await api.seller("Alor"), await api.seller("Lembata")]
    products = [
        await api.product(s, price=120_000 + i * 1_000, stock=5, category="kerajinan", name=f"Kerajinan {i}") for i, s in enumerate(sellers)
    ]
    order_id = (await paid_order(api, [{"product_id": p["id"], "quantity": 1} for p in products], api.shopper()))["id"]

    shipped = await asyncio.gather(*[ship(api, order_id, s["id"], "JNE", f"JNE{i}0000001") for i, s in enumerate(sellers)])
    assert [r.status_code for r in shipped] == [200, 200], [r.text for r in shipped]
    confirmed = await asyncio.gather(*[confirm(api, order_id, s["id"]) for s in sellers for _ in range(2)])
    assert [r.status_code for r in confirmed] == [200] * 4, [r.text for r in confirmed]
    order = await api.order(order_id)
    assert order["status"] == "COMPLETED"
    assert [(s["tracking_number"], s["status"]) for s in order["sub_orders"]] == [
        ("JNE00000001", "COMPLETED"),
        ("JNE10000001", "COMPLETED"),
    ]
    await order_events(system, order_id, "orders.order_shipped", count=2, settle=0)
    await order_events(system, order_id, "orders.order_completed", count=2)


async def test_shipped_sub_orders_complete_by_themselves_after_the_delay(api: Api, system: System) -> None:
    """Runs the orders service with a 4-second AUTO_COMPLETE_DAYS, then puts the default back."""
    delay = 4.0
    system.processes["orders"].stop()
    try:
        system.processes["orders"] = start_app(
            system.profile,
            system.endpoints,
            "orders",
            extra_env={"AUTO_COMPLETE_DAYS": str(delay / 86_400), "AUTO_COMPLETE_SWEEP_SECONDS": "0.5"},
        )
        weaver, roaster = await api.seller("Belu"), await api.seller("Sikka")
        cloth = await api.product(weaver, price=300_000, stock=5, category="tenun", name="Selendang tenun Belu")
        moringa = await api.product(roaster, price=45_000, stock=5, category="kelor", name="Teh kelor Sikka")
        order = await paid_order(
            api, [{"product_id": cloth["id"], "quantity": 1}, {"product_id": moringa["id"], "quantity": 2}], api.shopper()
        )
        order_id = order["id"]

        started = time.monotonic()
        assert (await ship(api, order_id, weaver["id"], "POS Indonesia", "POS123456789")).status_code == 200
        assert (await api.order(order_id))["sub_orders"][0]["status"] == "SHIPPED"  # not before the delay
        done = await eventually(
            lambda: api.order(order_id),
            lambda o: o["sub_orders"][0]["status"] == "COMPLETED",
            timeout=30,
            interval=0.3,
            what="auto-completion",
        )
        assert time.monotonic() - started >= delay - 0.5
        assert (done["sub_orders"][0]["completed_by"], done["status"], done["sub_orders"][1]["status"]) == ("auto", "PAID", "PAID")
        [event] = await order_events(system, order_id, "orders.order_completed", count=1)
        assert (event.data["seller"]["seller_id"], event.data["gross"], event.data["levy"], event.data["seller_payable"]) == (
            weaver["id"],
            300_000,
            3_000,
            297_000,
        )

        assert (await ship(api, order_id, roaster["id"], "JNE", "JNE555000111")).status_code == 200
        final = await api.order_reaches(order_id, "COMPLETED", timeout=30)
        assert [s["completed_by"] for s in final["sub_orders"]] == ["auto", "auto"]
    finally:
        system.processes["orders"].stop()
        system.processes["orders"] = start_app(system.profile, system.endpoints, "orders")
