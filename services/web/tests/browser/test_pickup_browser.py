"""Pick-up at NTT Mart in a real browser (Chromium through Playwright, no JavaScript on our
pages): the shopper chooses "Ambil di NTT Mart Belu" for one seller at checkout and pays, sees the
pick-up code on the order page; the seller marks the parcel delivered to the outlet; the outlet's
staff find it waiting and hand it over against the code (a wrong one is refused). Every page
passes axe-core and is screenshotted at 390x844 and 1280x800."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Browser, Page, expect

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api, System, eventually

from .harness import audit
from .test_shopper_journey import new_page, sign_up

pytestmark = pytest.mark.infra
STAFF_PASSWORD = "Ntt-Mart-Belu-Atambua-2026"


async def log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/masuk")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Kata sandi").fill(password)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("button", name="Keluar")).to_be_visible()


async def outlet_staff(api: Api, outlet_id: str) -> str:
    """An operator creates the outlet's staff account; returns its e-mail."""
    login = await api.catalog.post(
        "/auth/login", headers={"Authorization": ""}, json={"email": DEV_ADMIN_EMAIL, "password": DEV_ADMIN_PASSWORD}
    )
    email = f"staf-{uuid.uuid4().hex[:6]}@ntt-mart.example.id"
    created = await api.catalog.post(
        "/auth/staff",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        json={
            "role": "outlet",
            "name": "Staf NTT Mart Belu",
            "email": email,
            "phone": "081234500000",
            "password": STAFF_PASSWORD,
            "outlet_id": outlet_id,
        },
    )
    assert created.status_code == 201, created.text
    return email


async def test_pick_up_at_ntt_mart_belu_in_the_browser(browser: Browser, system: System, api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    weaver = await api.seller("Belu", name=f"Tenun Atambua {tag}")
    cloth = await api.product(weaver, price=300_000, stock=5, category="tenun", name=f"Selendang Belu {tag}")
    # One seller, two products: every sign-up is one more chance for the shared machine to time out.
    honey = await api.product(weaver, price=75_000, stock=5, category="madu", name=f"Madu hutan Belu {tag}")
    await eventually(lambda: api.orders.get("/outlets"), lambda r: "ntt-mart-belu" in r.text, timeout=60, what="orders' outlets")

    context, page = await new_page(browser, system)
    await sign_up(page, "Yohana Bria", api)
    for product in (cloth, honey):
        await page.goto(f"/produk/{product['id']}")
        await page.get_by_role("button", name="Tambah ke keranjang").click()
        await expect(page.get_by_text("Produk ditambahkan ke keranjang")).to_be_visible()
    await page.goto("/checkout")
    await page.get_by_label(f"Pesanan dari {weaver['name']}").select_option(label="Ambil di NTT Mart Belu")
    await audit(page, "checkout-ambil-di-ntt-mart")
    await page.get_by_role("button", name=re.compile(r"^Bayar Rp375\.000")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Bayar pesanan BNTT-")
    order_id = re.search(r"BNTT-[0-9A-F]+", await page.get_by_role("heading", level=1).inner_text()).group(0)  # type: ignore[union-attr]
    await page.get_by_role("button", name="Bayar dengan QRIS").click()
    await page.get_by_role("link", name="Kembali ke toko").click()
    await expect(page.locator("#status-pesanan")).to_have_text("Dibayar", timeout=60_000)
    code = (await api.order(order_id))["pickup_code"]
    await expect(page.get_by_text(code, exact=True)).to_be_visible()
    await expect(page.get_by_text("Ambil di NTT Mart Belu")).to_be_visible()
    await expect(page.get_by_role("img", name=f"QR kode pengambilan {code}")).to_be_visible()
    timeline = page.locator(".timeline")
    await expect(timeline).to_contain_text("Siap diambil di NTT Mart")
    await expect(timeline).not_to_contain_text("Dikirim")  # a pick-up is never shipped
    await audit(page, "pesanan-kode-ambil")

    seller_context, seller_page = await new_page(browser, system)
    await log_in(seller_page, weaver["email"], "kata-sandi-rahasia")
    await seller_page.goto("/penjual/pesanan?status=PAID")
    await expect(seller_page.get_by_text("Pembeli mengambil di NTT Mart Belu")).to_be_visible()
    await audit(seller_page, "penjual-antar-ntt-mart")
    await seller_page.get_by_role("button", name="Sudah diantar ke NTT Mart Belu").click()
    await expect(seller_page.get_by_text(f"Pesanan {order_id} sudah diantar ke NTT Mart Belu")).to_be_visible()

    staff_context, staff = await new_page(browser, system)
    await log_in(staff, await outlet_staff(api, "ntt-mart-belu"), STAFF_PASSWORD)
    await staff.goto("/ntt-mart/paket")
    parcel = staff.locator(f"#pesanan-{order_id}")
    await expect(parcel).to_contain_text(cloth["name"])
    await expect(parcel).to_contain_text(honey["name"])
    await audit(staff, "ntt-mart-paket")
    await parcel.get_by_label("Kode pengambilan dari pembeli").fill("AAAAAA" if code != "AAAAAA" else "BBBBBB")
    await parcel.get_by_role("button", name="Serahkan paket").click()
    await expect(staff.get_by_text("kode pengambilan salah")).to_be_visible()
    await audit(staff, "ntt-mart-kode-salah")
    await staff.locator(f"#pesanan-{order_id}").get_by_label("Kode pengambilan dari pembeli").fill(code.lower())
    await staff.locator(f"#pesanan-{order_id}").get_by_role("button", name="Serahkan paket").click()
    await expect(staff.get_by_text(f"Pesanan {order_id} sudah diserahkan kepada pembeli")).to_be_visible()

    done = await api.order(order_id)
    assert (done["status"], [s["completed_by"] for s in done["sub_orders"]]) == ("COMPLETED", ["outlet"])
    for opened in (context, seller_context, staff_context):
        await opened.close()
