"""The NTT Mart till in a real browser (Chromium through Playwright, no JavaScript on our pages):
the staff of NTT Mart Belu scan a shelf product, name an ASN by NIP and ring up a QRIS sale; the
page shows the QR drawn on the server and follows the payment until paid; a cash sale shows the
change and is paid back when the buyer returns it; the day's sales link the cash report; the
parcels page fits a 390 px phone. Every page passes axe-core and is screenshotted."""

from __future__ import annotations

import asyncio
import random
import re
import uuid

import pytest
from playwright.async_api import Browser, Page, expect

from tests.programme_support import import_opds, import_roster, new_nip
from tests.support import Api, System, eventually

from .harness import audit
from .test_pickup_browser import STAFF_PASSWORD, log_in, outlet_staff
from .test_shopper_journey import new_page

pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]  # the first test of a run also waits for the stack
OUTLET = "ntt-mart-belu"


async def ring_up(page: Page, product_id: str, quantity: str, buyer: str, method: str) -> str:
    await page.goto("/ntt-mart/kasir")
    await page.get_by_label("Pindai atau ketik kode produk/varian").fill(product_id)
    await page.get_by_label("Jumlah", exact=True).first.fill(quantity)
    await page.get_by_role("button", name="Tambah", exact=True).click()
    await expect(page.get_by_text("masuk keranjang")).to_be_visible()
    await page.get_by_label("Akun pembeli (opsional)").fill(buyer)
    await page.get_by_label(method).check()
    for _ in range(45):
        await page.get_by_role("button", name="Proses penjualan").click()
        heading = await page.get_by_role("heading", level=1).inner_text()
        if heading.startswith("Penjualan BNTT-"):
            return heading.split()[-1]
        # The NIP's link travels to orders as an event: the form stays filled, the staff try again.
        await expect(page.get_by_text("belum terhubung dengan akun Beli NTT")).to_be_visible()
        await asyncio.sleep(2)
    raise AssertionError("the till never accepted the buyer")


async def audit_still(page: Page, name: str) -> None:
    """axe-core on a still copy of a page that refreshes itself every few seconds (the QRIS
    sale's page reloads until paid, which would pull the document from under axe)."""
    html = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", await page.content())
    still = await page.context.new_page()
    await still.route("**/ntt-mart/_still", lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    await still.goto("/ntt-mart/_still")
    await audit(still, name)
    await still.close()


async def test_the_till_sells_by_qris_to_an_asn_and_by_cash_with_a_refund(browser: Browser, system: System, api: Api) -> None:
    tag, rng = uuid.uuid4().hex[:6], random.Random()
    weaver = await api.seller("Belu", name=f"Tenun Atambua {tag}")
    cloth = await api.product(weaver, price=60_000, stock=2, category="tenun", name=f"Selendang Belu {tag}")
    consigned = await api.catalog.put(f"/outlets/{OUTLET}/stock/{cloth['id']}", headers=api.as_seller(weaver), json={"stock": 6})
    assert consigned.status_code == 200, consigned.text
    opd = f"prov-bappelitbangda-{tag}"
    await import_opds(api, [(opd, "Bappelitbangda Provinsi NTT", "Provinsi NTT")])
    email, phone, nip = f"asn-{tag}@nttprov.example.id", f"0813{rng.randint(10**7, 10**8 - 1)}", new_nip(rng, "1")
    asn = await api.sign_up("shopper", "Fransiskus Asn", email, phone, "kata-sandi-panjang")
    await import_roster(api, [[nip, "Fransiskus Asn", opd, email, phone]])
    as_asn = {"Authorization": f"Bearer {asn['access_token']}"}
    assert (await api.programme.post("/programme/me/nip", headers=as_asn, json={"nip": nip})).json()["status"] == "linked"

    context, page = await new_page(browser, system)
    await log_in(page, await outlet_staff(api, OUTLET), STAFF_PASSWORD)
    await page.goto("/ntt-mart/kasir")
    await audit(page, "ntt-mart-kasir-kosong")

    order_id = await ring_up(page, cloth["id"], "2", nip, "QRIS (pindai dengan aplikasi pembayaran)")
    await expect(page.locator(".qris svg.qr")).to_be_visible(timeout=60_000)
    await audit_still(page, "ntt-mart-kasir-qris")
    await api.pay(order_id)
    await expect(page.locator("#status-penjualan")).to_have_text("Lunas, barang diserahkan", timeout=60_000)
    await expect(page.get_by_text("Fransiskus Asn")).to_be_visible()

    async def spent() -> int:
        return (await api.programme.get("/programme/me/progress", headers=as_asn)).json()["spent"]

    await eventually(spent, lambda amount: amount == 120_000, timeout=60, what="the ASN's commitment to count the sale")

    # Cash, then the buyer brings it back.
    cash_id = await ring_up(page, cloth["id"], "1", "", "Tunai")
    await page.get_by_label("Uang diterima (Rp)").fill("100.000")
    await audit(page, "ntt-mart-kasir-tunai")
    await page.get_by_role("button", name="Catat pembayaran tunai").click()
    await expect(page.get_by_text("Kembalian: Rp40.000")).to_be_visible()
    await page.get_by_label("Uang dikembalikan (Rp)").fill("50000")
    await page.get_by_role("button", name="Catat pengembalian tunai").click()
    await expect(page.get_by_text("kembalikan seluruh penjualan: Rp60.000")).to_be_visible()
    await audit(page, "ntt-mart-kasir-retur-salah")
    await page.get_by_label("Uang dikembalikan (Rp)").fill("60000")
    await page.get_by_role("button", name="Catat pengembalian tunai").click()
    await expect(page.get_by_text("Pengembalian tunai Rp60.000 dicatat")).to_be_visible()
    payment = (await api.payments.get(f"/payments/{cash_id}")).json()
    assert payment["status"] == "REFUNDED" and payment["cash_refund"]["paid_back"] == 60_000

    await page.goto("/ntt-mart/penjualan")
    await expect(page.locator(f"#penjualan-{order_id}")).to_be_visible()
    await expect(page.locator(f"#penjualan-{cash_id}")).to_be_visible()
    await audit(page, "ntt-mart-penjualan")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="unduh CSV").click()
    report = (await (await download.value).path()).read_text(encoding="utf-8-sig")
    assert cash_id in report and "pengembalian tunai" in report

    await page.goto("/ntt-mart/paket")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    await context.close()
