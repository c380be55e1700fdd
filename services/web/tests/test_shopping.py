"""The shopper's pages, server-side (no JavaScript): search, product, cart across devices,
checkout with the PAD contribution, paying, the order page, confirm receipt, cancel."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
from PIL import Image

from tests.support import Api, eventually

from .browsing import WebUser

pytestmark = pytest.mark.infra


async def two_sellers_of_kopi(api: Api, tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ngada = await api.seller("Ngada", name=f"Kopi Bajawa {tag}")
    sikka = await api.seller("Sikka", name=f"Mete Sikka {tag}")
    first = await api.listing(
        ngada, name=f"Kopi Bajawa arabika {tag}", category="kopi", price=85_000, stock=20, ovop_village="Desa Beiwali"
    )
    second = await api.listing(sikka, name=f"Kopi Bajawa robusta {tag} dari Sikka", category="kopi", price=40_000, stock=20)
    return first, second


async def latest_order(user: WebUser) -> str:
    listed = await user.open("/pesanan")
    found = re.search(r"(BNTT-[0-9A-F]+)", listed.text)
    assert found, listed.text[:2000]
    return found.group(1)


async def add(user: WebUser, product_id: str, quantity: int = 1, variant_id: str = "") -> None:
    await user.open(f"/produk/{product_id}")
    response = await user.submit("/keranjang/tambah", {"product_id": product_id, "quantity": quantity, "variant_id": variant_id})
    assert response.status_code == 200 and "ditambahkan ke keranjang" in response.text, response.text[:1500]


async def test_search_filter_cart_checkout_pay_and_confirm(api: Api, visitor: WebUser, other_visitor: WebUser) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second = await two_sellers_of_kopi(api, tag)
    account = await visitor.sign_up()

    found = await visitor.open("/cari", q=f"kopi bajawa {tag}")
    assert first["name"] in found.text and second["name"] in found.text
    assert "Ngada" in found.text and "(1)" in found.text  # the regency facet with its count
    filtered = await visitor.open("/cari", q=f"kopi bajawa {tag}", regency="Ngada")
    assert first["name"] in filtered.text and second["name"] not in filtered.text

    product = await visitor.open(f"/produk/{first['id']}")
    assert "Desa Beiwali" in product.text and "Rp85.000" in product.text and f"Kopi Bajawa {tag}" in product.text
    await add(visitor, first["id"], 2)
    await add(visitor, second["id"], 1)

    # The cart is kept by the orders service: the same account on another device sees it.
    await other_visitor.open("/masuk")
    await other_visitor.submit("/masuk", {"email": account["email"], "password": account["password"]})
    cart = await other_visitor.open("/keranjang")
    assert first["name"] in cart.text and second["name"] in cart.text and "Rp210.000" in cart.text
    assert cart.text.index(f"Kopi Bajawa {tag}") < cart.text.index(f"Mete Sikka {tag}") or f"Mete Sikka {tag}" in cart.text

    checkout = await visitor.open("/checkout")
    assert "Rp170.000" in checkout.text and "Rp40.000" in checkout.text and "Kontribusi PAD" in checkout.text
    key = re.search(r'name="key" value="([0-9a-f]+)"', checkout.text)
    assert key
    visitor.http.follow_redirects = False
    placed = await visitor.submit(
        "/checkout", {"key": key.group(1), "name": account["name"], "email": account["email"], "phone": account["phone"]}
    )
    visitor.http.follow_redirects = True
    # Straight to Midtrans Snap's payment page once the payment link is there.
    assert placed.status_code == 303 and "/snap/" in placed.headers["location"], placed.text[:1000]
    order_id = await latest_order(visitor)

    waiting = await visitor.open(f"/pesanan/{order_id}")
    assert ('http-equiv="refresh"' in waiting.text and "Menunggu pembayaran" in waiting.text) or "Memeriksa stok" in waiting.text
    await api.payable(order_id)
    await api.pay(order_id)
    paid = await eventually(
        lambda: visitor.open(f"/pesanan/{order_id}"), lambda r: 'id="status-pesanan">Dibayar<' in r.text, what="the order page to say PAID"
    )
    assert 'http-equiv="refresh"' not in paid.text and "Kontribusi PAD" in paid.text
    assert "Keranjang Anda masih kosong" in (await visitor.open("/keranjang")).text

    for seller_id in {first["seller_id"], second["seller_id"]}:
        shipped = await api.orders.post(
            f"/orders/{order_id}/sub-orders/{seller_id}/ship", json={"courier": "JNE", "tracking_number": f"JNE{tag}"}
        )
        assert shipped.status_code == 200, shipped.text
    page = await visitor.open(f"/pesanan/{order_id}")
    assert f"JNE{tag}" in page.text
    for seller_id in (first["seller_id"], second["seller_id"]):
        confirmed = await visitor.submit(f"/pesanan/{order_id}/terima/{seller_id}")
        assert "sudah dikonfirmasi" in confirmed.text
    assert 'id="status-pesanan">Selesai<' in (await visitor.open(f"/pesanan/{order_id}")).text
    listed = await visitor.open("/pesanan")
    assert order_id in listed.text and "Selesai" in listed.text


async def test_another_shoppers_order_is_not_found(api: Api, visitor: WebUser, other_visitor: WebUser) -> None:
    tag = uuid.uuid4().hex[:8]
    first, _ = await two_sellers_of_kopi(api, tag)
    await visitor.sign_up()
    await add(visitor, first["id"])
    checkout = await visitor.open("/checkout")
    key = re.search(r'name="key" value="([0-9a-f]+)"', checkout.text)
    assert key
    placed = await visitor.submit("/checkout", {"key": key.group(1), "name": "Yohana", "email": "y@example.id", "phone": "081234567890"})
    assert placed.status_code == 200
    order_id = await latest_order(visitor)
    await other_visitor.sign_up()
    response = await other_visitor.open(f"/pesanan/{order_id}")
    assert response.status_code == 404 and order_id not in response.text
    # ... and cancelling it from the other account changes nothing.
    refused = await other_visitor.submit(f"/pesanan/{order_id}/batal")
    assert refused.status_code == 404
    cancelled = await visitor.submit(f"/pesanan/{order_id}/batal")
    assert 'id="status-pesanan">Dibatalkan<' in cancelled.text


async def test_empty_states(visitor: WebUser) -> None:
    await visitor.sign_up()
    assert "Keranjang Anda masih kosong" in (await visitor.open("/keranjang")).text
    assert "Belum ada pesanan" in (await visitor.open("/pesanan")).text
    assert "Belum ada pesan" in (await visitor.open("/kotak-masuk")).text
    nothing = await visitor.open("/cari", q=f"tidakada{uuid.uuid4().hex[:6]}")
    assert nothing.status_code == 200 and "Tidak ada produk yang cocok" in nothing.text
    checkout = await visitor.open("/checkout")
    assert "Keranjang Anda kosong" in checkout.text


async def test_many_items_are_paged(api: Api, visitor: WebUser) -> None:
    tag = uuid.uuid4().hex[:8]
    seller = await api.seller("Belu", name=f"Kelor {tag}")
    for number in range(23):
        await api.listing(seller, name=f"Teh kelor {tag} nomor {number}", category="kelor", price=10_000 + number, stock=5)
    first = await visitor.open("/cari", q=f"kelor {tag}", sort="price_asc")
    assert first.text.count('class="product-card"') == 20 and 'rel="next"' in first.text
    next_url = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_url
    second = await visitor.open(next_url.group(1).replace("&amp;", "&"))
    assert second.text.count('class="product-card"') == 3 and 'rel="next"' not in second.text and "Halaman pertama" in second.text
    shop = await visitor.open(f"/toko/{seller['id']}")
    assert shop.text.count('class="product-card"') == 20 and 'rel="next"' in shop.text


async def test_bad_search_input_is_explained_not_crashed(visitor: WebUser) -> None:
    response = await visitor.open("/cari", min_price="90000", max_price="10")
    assert response.status_code == 200 and "min_price" in response.text


async def test_notification_preferences_keep_transactional_messages(visitor: WebUser) -> None:
    await visitor.sign_up()
    form = await visitor.open("/pengaturan/notifikasi")
    assert "Bukti pembayaran" in form.text and 'name="payment_receipt:email"' in form.text
    refused = await visitor.submit("/pengaturan/notifikasi", {"payment_link:sms": "1"})
    assert refused.status_code == 400 and "minimal satu saluran" in refused.text
    # Keep what is checked (every transactional kind keeps a channel) and add SMS for payment links.
    checked = dict.fromkeys(re.findall(r'name="([a-z_]+:[a-z]+)" value="1" checked', form.text), "1")
    saved = await visitor.submit("/pengaturan/notifikasi", checked | {"payment_link:sms": "1", "order_shipped:whatsapp": "1"})
    assert "disimpan" in saved.text and re.search(r'name="payment_link:sms" value="1" checked', saved.text)


async def test_photos_are_resized_webp_when_accepted_and_cached(api: Api, visitor: WebUser) -> None:
    tag = uuid.uuid4().hex[:8]
    first, _ = await two_sellers_of_kopi(api, tag)
    picture = io.BytesIO()
    Image.new("RGB", (1600, 1200), (120, 60, 20)).save(picture, "JPEG", quality=95)
    uploaded = await api.catalog.post(
        f"/products/{first['id']}/photos",
        files={"photo": ("kopi.jpg", picture.getvalue(), "image/jpeg")},
        headers=api.as_seller({"id": first["seller_id"]}),
    )
    assert uploaded.status_code == 201, uploaded.text
    photo_id = uploaded.json()["photos"][0]["id"]
    listing = await visitor.open("/cari", q=f"arabika {tag}")
    assert f"/foto/{first['id']}/{photo_id}?ukuran=kecil" in listing.text

    small = await visitor.http.get(f"/foto/{first['id']}/{photo_id}", params={"ukuran": "kecil"}, headers={"Accept": "image/webp,*/*"})
    assert small.status_code == 200 and small.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(small.content)).size) == 320 and len(small.content) < len(picture.getvalue()) / 5
    assert "immutable" in small.headers["cache-control"] and small.headers["etag"]
    again = await visitor.http.get(
        f"/foto/{first['id']}/{photo_id}",
        params={"ukuran": "kecil"},
        headers={"Accept": "image/webp", "If-None-Match": small.headers["etag"]},
    )
    assert again.status_code == 304
    large = await visitor.http.get(f"/foto/{first['id']}/{photo_id}", headers={"Accept": "image/jpeg"})
    assert large.headers["content-type"] == "image/jpeg" and max(Image.open(io.BytesIO(large.content)).size) == 960
