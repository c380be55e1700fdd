"""Sellers, listings, photos and catalog events on the real stack. Events are read from Kafka
with a real consumer; variant reservations are driven by publishing OrderPlaced directly (the
orders service does not pass variants through yet)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled, OrderPlaced
from beli_contracts.topics import CATALOG_EVENTS, ORDERS_EVENTS
from beli_contracts.values import Customer, OrderItem
from tests.support import Api, System, eventually, read_events

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
CUSTOMER = Customer(name="Pembeli Uji", email="uji@nttprov.example.id", phone="081300000001")


async def catalog_events(
    system: System, accept: Callable[[Envelope], bool], *, count: int, timeout: float = 30.0, settle: float = 0.0
) -> list[Envelope]:
    return await read_events(system.endpoints.kafka_bootstrap, CATALOG_EVENTS, accept, count=count, timeout=timeout, settle=settle)


def about(product_id: str, *types: str) -> Callable[[Envelope], bool]:
    return lambda e: e.type in types and e.data.get("product_id") == product_id


async def publish(system: System, *envelopes: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=system.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(ORDERS_EVENTS, envelope.to_bytes(), key=envelope.key.encode())
    finally:
        await producer.stop()


def placed(order_id: str, items: list[OrderItem]) -> Envelope:
    return Envelope.wrap(
        OrderPlaced(order_id=order_id, customer=CUSTOMER, items=items, placed_at=datetime.now(UTC)), key=order_id, source="tests"
    )


async def test_unverified_sellers_products_are_invisible_and_unsellable_until_verified(api: Api) -> None:
    seller = await api.pending_seller(
        "Belu",
        owner_name="Maria Bere",
        nib="1234567890123",
        ovop=True,
        bank_account={"bank": "Bank NTT", "account_number": "0012345678", "account_holder": "Maria Bere"},
    )
    assert (seller["status"], seller["ovop"], seller["bank_account"]["account_number"]) == ("pending", True, "******5678")
    t = "zq" + uuid.uuid4().hex[:6]
    product = await api.listing(seller, name=f"Teh kelor {t}", category="kelor", price=35_000, stock=5, weight_grams=100)
    assert (product["visible"], product["ovop"]) == (False, True)
    assert (await api.catalog.get(f"/products/{product['id']}")).status_code == 404
    assert (await api.search(q=t))["items"] == []
    queue = (await api.catalog.get("/admin/sellers", params={"status": "pending", "limit": 200})).json()
    assert seller["id"] in [s["id"] for s in queue]
    order_id = (await api.place([(product["id"], 1)])).json()["id"]
    rejected = await api.order_reaches(order_id, "REJECTED")
    assert "not_for_sale" in rejected["status_reason"]

    verified = await api.verify_seller(seller["id"])
    assert verified["status"] == "verified"
    assert (await api.verify_seller(seller["id"]))["status"] == "verified"  # repeat changes nothing
    assert (await api.catalog.get(f"/products/{product['id']}")).json()["visible"] is True
    assert [p["id"] for p in (await api.search(q=t))["items"]] == [product["id"]]
    hidden = await api.catalog.patch(f"/products/{product['id']}", json={"active": False})
    assert hidden.status_code == 200 and hidden.json()["visible"] is False
    assert (await api.search(q=t))["items"] == []
    assert [p["id"] for p in (await api.catalog.get(f"/sellers/{seller['id']}/products")).json()] == [product["id"]]
    assert (await api.catalog.post("/admin/sellers/slr-nope/verify")).status_code == 404


async def test_photos_are_stored_served_and_checked_by_their_bytes(api: Api) -> None:
    product = await api.product(await api.seller("Sumba Barat"), price=900_000, stock=1, name="Kain Sumba Barat")
    upload = await api.catalog.post(f"/products/{product['id']}/photos", files={"photo": ("kain.jpg", PNG, "image/jpeg")})
    assert upload.status_code == 201, upload.text
    photo = upload.json()["photos"][0]
    assert (photo["content_type"], photo["size"]) == ("image/png", len(PNG))  # the bytes decide, not the header
    served = await api.catalog.get(photo["url"])
    assert served.status_code == 200 and served.content == PNG and served.headers["content-type"] == "image/png"

    gif = await api.catalog.post(f"/products/{product['id']}/photos", files={"photo": ("x.png", b"GIF89a" + b"\0" * 50, "image/png")})
    assert gif.status_code == 415 and gif.json()["errors"][0]["field"] == "photo"
    too_big = await api.catalog.post(
        f"/products/{product['id']}/photos", files={"photo": ("big.jpg", b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024), "image/jpeg")}
    )
    assert too_big.status_code == 413 and "2 MB" in too_big.json()["message"]
    assert len((await api.stock_of(product["id"]))["photos"]) == 1  # refused uploads attach nothing
    deleted = await api.catalog.delete(photo["url"])
    assert deleted.status_code == 200 and deleted.json()["photos"] == []
    assert (await api.catalog.get(photo["url"])).status_code == 404


async def test_price_change_is_an_event_and_never_reprices_a_placed_order(api: Api, system: System) -> None:
    product = await api.product(await api.seller("Flores Timur"), price=100_000, stock=10, category="mete", name="Mete Larantuka")
    order_id = (await api.place([(product["id"], 2)])).json()["id"]
    order = await api.payable(order_id)
    assert order["total"] == 200_000

    changed = await api.catalog.patch(f"/products/{product['id']}", json={"price": 150_000})
    assert changed.status_code == 200 and changed.json()["price"] == 150_000
    [event] = await catalog_events(system, about(product["id"], "catalog.product_price_changed"), count=1)
    assert (event.data["old_price"], event.data["new_price"], event.data["seller_id"]) == (100_000, 150_000, product["seller_id"])

    await api.pay(order_id)
    paid = await api.order_reaches(order_id, "PAID")
    assert paid["total"] == 200_000  # reserved at Rp100.000, paid at Rp100.000
    assert (await api.payments.get(f"/payments/{order_id}")).json()["gross_amount"] == 200_000


async def test_stock_changes_and_stock_low_once_per_crossing(api: Api, system: System) -> None:
    product = await api.listing(
        await api.seller("Rote Ndao"), name="Gula lempeng Rote", category="pangan", price=20_000, stock=8, low_stock_threshold=5
    )
    pid = product["id"]
    assert (await api.catalog.put(f"/products/{pid}/stock", json={"stock": 4})).json()["stock"] == 4  # crossing 1
    order_id = (await api.place([(pid, 1)])).json()["id"]
    await api.payable(order_id)  # 4 → 3: already low, silent
    await api.catalog.put(f"/products/{pid}/stock", json={"stock": 9})  # back above: re-armed
    second = (await api.place([(pid, 6)])).json()["id"]
    await api.payable(second)  # 9 → 3 by a reservation: crossing 2
    events = await catalog_events(system, about(pid, "catalog.stock_changed", "catalog.stock_low"), count=4, settle=2)
    assert [(e.type.split(".")[1], e.data["stock"]) for e in events] == [
        ("stock_changed", 4),
        ("stock_low", 4),
        ("stock_changed", 9),
        ("stock_low", 3),
    ]
    assert events[1].data["threshold"] == 5 and events[1].data["seller"]["regency"] == "Rote Ndao"
    bad = await api.catalog.put(f"/products/{pid}/stock", json={"stock": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "stock"


async def test_variants_are_reserved_priced_and_released_on_their_own(api: Api, system: System) -> None:
    seller = await api.seller("Sumba Timur")
    product = await api.listing(
        seller,
        name="Hinggi Sumba",
        category="tenun",
        low_stock_threshold=1,
        variants=[{"name": "Merah", "price": 650_000, "stock": 2}, {"name": "Biru", "price": 600_000, "stock": 3}],
    )
    red, blue = (v["id"] for v in product["variants"])
    assert (product["price"], product["stock"]) == (600_000, 5)  # "mulai dari" the lowest price
    dup = await api.catalog.post(f"/products/{product['id']}/variants", json={"name": " merah ", "price": 1, "stock": 1})
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "variants.0.name"
    no_price = await api.catalog.patch(f"/products/{product['id']}", json={"price": 1})
    assert no_price.status_code == 409

    order_id, bare_id = f"TEST-{uuid.uuid4().hex[:10]}", f"TEST-{uuid.uuid4().hex[:10]}"
    await publish(
        system,
        placed(
            order_id,
            [
                OrderItem(product_id=product["id"], variant_id=red, quantity=2),
                OrderItem(product_id=product["id"], variant_id=blue, quantity=1),
            ],
        ),
        placed(bare_id, [OrderItem(product_id=product["id"], quantity=1)]),
    )
    [reserved] = await catalog_events(system, lambda e: e.key == order_id and e.type == "catalog.stock_reserved", count=1)
    assert sorted((line["variant_id"], line["unit_price"], line["product_name"]) for line in reserved.data["lines"]) == sorted(
        [(red, 650_000, "Hinggi Sumba (Merah)"), (blue, 600_000, "Hinggi Sumba (Biru)")]
    )
    [refused] = await catalog_events(system, lambda e: e.key == bare_id and e.type == "catalog.stock_rejected", count=1)
    assert refused.data["lines"][0]["reason"] == "not_for_sale"
    [low] = await catalog_events(system, about(product["id"], "catalog.stock_low"), count=1)
    assert (low.data["variant_id"], low.data["stock"]) == (red, 0)

    held = await api.stock_of(product["id"])
    assert {v["id"]: (v["stock"], v["reserved"]) for v in held["variants"]} == {red: (0, 2), blue: (2, 1)}
    assert (held["stock"], held["reserved"]) == (2, 3)
    await publish(
        system,
        Envelope.wrap(OrderCancelled(order_id=order_id, customer=CUSTOMER, reason="shopper_cancelled"), key=order_id, source="tests"),
    )
    back = await eventually(lambda: api.stock_of(product["id"]), lambda p: p["reserved"] == 0, what="variant stock released")
    assert {v["id"]: v["stock"] for v in back["variants"]} == {red: 2, blue: 3}
    repriced = await api.catalog.patch(f"/products/{product['id']}/variants/{blue}", json={"price": 700_000})
    assert repriced.json()["price"] == 650_000
    [change] = await catalog_events(system, about(product["id"], "catalog.product_price_changed"), count=1)
    assert (change.data["variant_id"], change.data["old_price"], change.data["new_price"]) == (blue, 600_000, 700_000)
