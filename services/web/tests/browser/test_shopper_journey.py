"""The shopper's journey of issue 9 in a real browser (Chromium through Playwright): sign up,
search "kopi bajawa", filter by regency, add two products of two sellers, check out, pay on the
Midtrans simulator's page, see PAID, confirm receipt after the sellers ship. Every page passes
axe-core (no serious or critical violation) and is screenshotted at 390x844 and 1280x800."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from infra.codes import mail_query
from tests.support import Api, System

from ..browsing import PASSWORD
from .harness import audit

pytestmark = pytest.mark.infra
TIMEOUT_MS = 30_000


async def new_page(browser: Browser, system: System) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=system.profile.service_url("web"), viewport={"width": 390, "height": 844}, locale="id-ID")
    context.set_default_timeout(TIMEOUT_MS)
    return context, await context.new_page()


async def sign_up(page: Page, name: str, api: Api) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    since = datetime.now(UTC)
    account = {"name": name, "email": f"pw-{tag}@nttprov.example.id", "phone": f"0817{int(tag, 16) % 10**8:08d}"}
    await page.goto("/daftar")
    await page.get_by_label("Nama lengkap").fill(account["name"])
    await page.get_by_label("E-mail").fill(account["email"])
    await page.get_by_label("Nomor HP (WhatsApp)").fill(account["phone"])
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    await page.get_by_role("button", name="Buat akun").click()
    # The code the person reads in their mailbox (the messaging simulator's).
    await expect(page.get_by_role("heading", name="Verifikasi e-mail")).to_be_visible()
    await audit(page, "verifikasi")
    await page.get_by_label("Kode dari e-mail").fill(await api.code_sent(*mail_query(account["email"]), since))
    await page.get_by_role("button", name="Aktifkan akun").click()
    await expect(page.get_by_role("button", name="Keluar")).to_be_visible()
    return account


async def kopi_of_two_sellers(api: Api, tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ngada = await api.seller("Ngada", name=f"Kopi Bajawa Beiwali {tag}")
    sikka = await api.seller("Sikka", name=f"Kebun Sikka {tag}")
    first = await api.listing(
        ngada,
        name=f"Kopi Bajawa arabika sangrai {tag}",
        category="kopi",
        price=85_000,
        stock=30,
        ovop_village="Desa Beiwali",
        description="Kopi arabika dari lereng Inerie, dipetik merah dan dijemur di para-para.",
    )
    second = await api.listing(sikka, name=f"Kopi Bajawa robusta {tag}", category="kopi", price=40_000, stock=30, variants=[])
    return first, second


async def test_shopper_journey_in_the_browser(browser: Browser, system: System, api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second = await kopi_of_two_sellers(api, tag)
    context, page = await new_page(browser, system)
    await page.goto("/")
    await audit(page, "beranda")
    await page.goto("/daftar")
    await audit(page, "daftar")
    await sign_up(page, "Yohana Bria", api)

    await page.get_by_label("Cari produk NTT").fill(f"kopi bajawa {tag}")
    await page.get_by_label("Cari produk NTT").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(f"kopi bajawa {tag}")
    await expect(page.get_by_text(first["name"])).to_be_visible()
    await expect(page.get_by_text(second["name"])).to_be_visible()
    await audit(page, "cari")
    await page.get_by_role("link", name="Ngada", exact=True).click()
    await expect(page.get_by_text(first["name"])).to_be_visible()
    await expect(page.get_by_text(second["name"])).to_have_count(0)

    await page.get_by_text(first["name"]).click()
    await expect(page.get_by_text("Desa Beiwali").first).to_be_visible()
    await audit(page, "produk")
    await page.get_by_label("Jumlah").fill("2")
    await page.get_by_role("button", name="Tambah ke keranjang").click()
    await expect(page.get_by_text("Produk ditambahkan ke keranjang")).to_be_visible()
    await page.goto(f"/produk/{second['id']}")
    await page.get_by_role("button", name="Tambah ke keranjang").click()
    await expect(page.get_by_text("Rp210.000")).to_be_visible()  # 2 x 85.000 + 40.000
    await audit(page, "keranjang")

    await page.get_by_role("link", name="Lanjut ke checkout").click()
    await expect(page.get_by_text("Kontribusi PAD NTT")).to_be_visible()
    await audit(page, "checkout")
    await page.get_by_role("button", name=re.compile(r"^Bayar Rp210\.000")).click()

    # Midtrans Snap (the simulator's payment page), then back to the shop.
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Bayar pesanan BNTT-")
    order_id = re.search(r"BNTT-[0-9A-F]+", await page.get_by_role("heading", level=1).inner_text()).group(0)  # type: ignore[union-attr]
    await page.get_by_role("button", name="Bayar dengan QRIS").click()
    await page.get_by_role("link", name="Kembali ke toko").click()
    status = page.locator("#status-pesanan")
    await expect(status).to_have_text("Dibayar", timeout=60_000)  # the page refreshes itself (meta refresh)
    await audit(page, "pesanan-dibayar")

    for seller_id in (first["seller_id"], second["seller_id"]):
        shipped = await api.orders.post(
            f"/orders/{order_id}/sub-orders/{seller_id}/ship", json={"courier": "JNE", "tracking_number": f"JNE{tag}"}
        )
        assert shipped.status_code == 200, shipped.text
    await page.reload()
    for button in await page.get_by_role("button", name=re.compile("sudah diterima")).all():
        await page.get_by_role("button", name=re.compile("sudah diterima")).first.click()
        await expect(page.get_by_text("Penerimaan barang sudah dikonfirmasi")).to_be_visible()
        del button
    await expect(status).to_have_text("Selesai")
    await audit(page, "pesanan-selesai")

    await page.goto("/pesanan")
    await expect(page.get_by_text(order_id)).to_be_visible()
    await audit(page, "pesanan-saya")
    await page.goto(f"/toko/{first['seller_id']}")
    await audit(page, "toko")
    await page.goto("/kotak-masuk")
    await audit(page, "kotak-masuk")
    await page.goto("/pengaturan/notifikasi")
    await audit(page, "pengaturan-notifikasi")

    # Another shopper: the order URL is not found; a form posted without its CSRF token is refused.
    other_context, other = await new_page(browser, system)
    await sign_up(other, "Maria Nona", api)
    response = await other.goto(f"/pesanan/{order_id}")
    assert response is not None and response.status == 404
    await expect(other.get_by_text(order_id)).to_have_count(0)
    refused = await other.request.post("/keluar", form={"csrf_token": "bukan-token-sesi-ini"})
    assert refused.status == 403
    refused = await other.request.post("/keranjang/tambah", form={"product_id": first["id"], "quantity": "1"})
    assert refused.status == 403
    await other.goto("/")
    await expect(other.get_by_role("button", name="Keluar")).to_be_visible()  # still signed in

    await page.get_by_role("button", name="Keluar").click()
    await page.goto("/masuk")
    await audit(page, "masuk")
    await context.close()
    await other_context.close()
