"""Hostile input gets a 4xx, never a 500 (issue 14, items 5 and 7): forged or out-of-range
cursors, bodies nested thousands deep (the Midtrans webhook before its signature check, the
simulator too), oversized bodies outside photo uploads, and loosely typed values."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.support import Api

DEEP = b"[" * 3000 + b"]" * 3000
DEEP_OBJECT = b'{"a":' * 3000 + b"1" + b"}" * 3000
PNG_HEADER = bytes.fromhex("89504e470d0a1a0a")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """A streamed body without Content-Length: the limit must hold while the bytes arrive."""
    for part in parts:
        yield part


def unsigned(body: Any) -> str:
    """A cursor as an attacker makes one: the old unsigned format."""
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def tampered(real: str, body: Any) -> str:
    """Someone else's values under a real cursor's signature."""
    return f"{unsigned(body)}.{real.rpartition('.')[2]}"


async def test_forged_and_out_of_range_search_cursors_get_422(api: Api) -> None:
    seller = await api.seller("Sikka")
    for price in (1_000, 2_000, 3_000):
        await api.product(seller, price=price, stock=1, category="kerajinan", name=f"Anyaman Sikka {uuid.uuid4().hex[:6]}")
    first = await api.search(regency="Sikka", sort="price_asc", limit=1, facets="false")
    real = first["next_cursor"]
    assert (
        real and (await api.catalog.get("/products", params={"regency": "Sikka", "sort": "price_asc", "cursor": real})).status_code == 200
    )
    attacks = [
        ("newest", unsigned({"s": "newest", "k": [{"t": 1e30}, "prd-x"]})),
        ("newest", unsigned({"s": "newest", "k": [{"t": 10**30}, "prd-x"]})),
        ("price_asc", unsigned({"s": "price_asc", "k": [2**64, "prd-x"]})),
        ("price_asc", tampered(real, {"s": "price_asc", "k": [2**64, "prd-x"]})),
        ("price_asc", tampered(real, {"s": "price_asc", "k": [{"$gt": ""}, "prd-x"]})),
        ("price_asc", "e30." + "A" * 22),
    ]
    for sort, forged in attacks:
        answer = await api.catalog.get("/products", params={"sort": sort, "cursor": forged})
        assert answer.status_code == 422, (forged, answer.text)
        assert answer.json()["errors"][0]["field"] == "cursor"
    for price in (2**64, -1, 10**30):
        answer = await api.catalog.get("/products", params={"min_price": str(price)})
        assert answer.status_code == 422, answer.text


async def test_forged_seller_orders_cursor_gets_422(api: Api) -> None:
    seller = await api.seller("Lembata")
    forged = unsigned("9999-12-31T00:00:00|BNTT-x")
    answer = await api.orders.get(f"/sellers/{seller['id']}/orders", params={"cursor": forged}, headers=api.as_seller(seller))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "cursor", answer.text


async def test_bodies_nested_3000_deep_are_refused_before_parsing(api: Api) -> None:
    json_type = {"Content-Type": "application/json"}
    targets: list[tuple[httpx.AsyncClient, str, dict[str, str]]] = [
        (api.payments, "/midtrans/notification", {"Authorization": ""}),  # the webhook: no auth, before the signature
        (api.midtrans, "/snap/v1/transactions", {}),
        (api.midtrans, "/v2/BNTT-x/refund", {}),
        (api.catalog, "/auth/login", {"Authorization": ""}),
        (api.orders, "/orders", {"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(api.shopper())}),
        (api.notifications, "/notifications/read-all", {}),
    ]
    for client, path, headers in targets:
        for body in (DEEP, DEEP_OBJECT):
            answer = await client.post(path, content=body, headers={**json_type, **headers})
            assert answer.status_code == 400, f"{path}: {answer.status_code} {answer.text[:200]}"
            assert "nested" in answer.json()["message"]
    # Without a content type it is still looked at (FastAPI parses such bodies as JSON).
    answer = await api.payments.post("/midtrans/notification", content=DEEP, headers={"Authorization": ""})
    assert answer.status_code == 400, answer.text


async def test_64_kib_everywhere_but_photo_uploads(api: Api) -> None:
    padding = "x" * 70_000
    login = await api.catalog.post("/auth/login", json={"email": "a@b.id", "password": padding}, headers={"Authorization": ""})
    assert login.status_code == 413, login.text
    chunked = await api.catalog.post("/auth/login", content=chunks(b'{"email":"', b"a" * 70_000, b'"}'), headers={"Authorization": ""})
    assert chunked.status_code == 413, chunked.text
    for client, path in ((api.orders, "/orders"), (api.payments, "/midtrans/notification"), (api.notifications, "/notifications/read-all")):
        assert (await client.post(path, json={"x": padding})).status_code == 413

    seller = await api.seller("Ende")
    product = await api.product(seller, price=50_000, stock=1, category="tenun", name="Kain Lio besar")
    photo = PNG_HEADER + b"\0" * (1_900_000 - len(PNG_HEADER))  # 1.9 MB: over 64 KiB, under the photo limit
    uploaded = await api.catalog.post(
        f"/products/{product['id']}/photos", headers=api.as_seller(seller), files={"photo": ("besar.png", photo, "image/png")}
    )
    assert uploaded.status_code == 201, uploaded.text
    # The photo route's larger limit is its own: the same size elsewhere in the catalog is refused.
    elsewhere = await api.catalog.patch(f"/products/{product['id']}", headers=api.as_seller(seller), json={"description": "x" * 1_900_000})
    assert elsewhere.status_code == 413


async def test_loosely_typed_values_are_refused(api: Api) -> None:
    seller = await api.seller("Ngada")
    product = await api.product(seller, price=75_000, stock=10, category="kopi", name="Kopi Bajawa sangrai")
    customer = api.shopper()
    for quantity in ("1", True, 1.0):
        answer = await api.orders.post(
            "/orders",
            headers={"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(customer)},
            json={"customer": customer, "items": [{"product_id": product["id"], "quantity": quantity}]},
        )
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "items.0.quantity", (quantity, answer.text)
    for body in ({"stock": "5"}, {"stock": True}):
        answer = await api.catalog.put(f"/products/{product['id']}/stock", headers=api.as_seller(seller), json=body)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "stock", answer.text
    answer = await api.catalog.patch(f"/products/{product['id']}", headers=api.as_seller(seller), json={"active": "false"})
    assert answer.status_code == 422, answer.text
    rule = await api.payments.post("/admin/levy-rules", json={"rate_bps": "100", "category": "kopi", "reason": "uji tipe"})
    assert rule.status_code == 422 and rule.json()["errors"][0]["field"] == "rate_bps", rule.text
    # Correct types still work (timestamps arrive as ISO strings).
    assert (await api.catalog.put(f"/products/{product['id']}/stock", headers=api.as_seller(seller), json={"stock": 5})).status_code == 200
