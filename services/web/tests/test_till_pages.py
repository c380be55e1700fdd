"""The NTT Mart till against canned service answers: the cart kept in the page (scan, search, add,
change, remove; shelf limits), the buyer typed as e-mail, phone or NIP, refusals shown in the form
(never a 500), the QRIS code drawn as an image, cash with its change, a cash refund, the day's
sales and the cash report download. User-typed text is escaped everywhere."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from web import till_cart
from web.backend import BackendError

from .staff_fakes import Browser, browsing

OUTLET = "ntt-mart-belu"
SHELF = [
    {"outlet_id": OUTLET, "product_id": "prd-kopi", "variant_id": None, "product_name": "Kopi Belu 250 g", "variant_name": None,
     "seller_id": "slr-1", "unit_price": 40_000, "stock": 3, "reserved": 0, "sold": 0},
    {"outlet_id": OUTLET, "product_id": "prd-tenun", "variant_id": "var-merah", "product_name": "Selendang tenun", "variant_name": "Merah",
     "seller_id": "slr-2", "unit_price": 150_000, "stock": 2, "reserved": 0, "sold": 0},
    {"outlet_id": OUTLET, "product_id": "prd-tenun", "variant_id": "var-biru", "product_name": "Selendang tenun", "variant_name": "Biru",
     "seller_id": "slr-2", "unit_price": 155_000, "stock": 0, "reserved": 0, "sold": 0},
]  # fmt: skip


async def staff(browser: Browser) -> None:
    await browser.log_in("outlet", outlet_id=OUTLET)
    browser.services.on("GET", "catalog", f"/outlets/{OUTLET}/stock", SHELF)


def cart_in(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("b", [])


def sale(status: str, method: str = "qris", **extra: Any) -> dict[str, Any]:
    return {
        "id": "BNTT-TILL1", "status": status, "status_reason": None, "payment_method": method, "channel": f"outlet:{OUTLET}",
        "customer": {"name": "Yosef", "account_id": "acc-yosef", "email": "y@example.id", "phone": "0812"},
        "total": 80_000, "levy_total": None if status in ("PENDING", "AWAITING_PAYMENT") else 800,
        "items": [{"product_id": "prd-kopi", "product_name": "Kopi Belu 250 g", "quantity": 2, "unit_price": 40_000, "subtotal": 80_000}],
        "sub_orders": [], "payment": None, "pay_before": "2026-11-23T10:00:00Z", "created_at": "2026-11-23T09:30:00Z",
        "updated_at": "2026-11-23T09:30:00Z", "history": [],
    } | extra  # fmt: skip


def test_the_cart_rules_without_a_page() -> None:
    shelf = till_cart.shelf_index(SHELF)
    cart = till_cart.parse_cart(["prd-kopi:2", "prd-kopi:1", "prd-tenun/var-merah:1", "<script>:1", "prd-x:0"])
    assert cart.lines == {"prd-kopi": 3, "prd-tenun/var-merah": 1} and len(cart.problems) == 2
    assert till_cart.add(cart, shelf, "prd-kopi", 1) == "Stok rak Kopi Belu 250 g tinggal 3."
    assert till_cart.scanned(shelf, "var-merah") == ("prd-tenun/var-merah", None)
    assert till_cart.scanned(shelf, "prd-tenun")[0] is None  # two variants: the staff choose
    assert till_cart.scanned(shelf, "prd-kopi") == ("prd-kopi", None)
    assert cart.items() == [
        {"product_id": "prd-kopi", "quantity": 3},
        {"product_id": "prd-tenun", "variant_id": "var-merah", "quantity": 1},
    ]
    assert till_cart.buyer_of("1985 0312 2010 01 2 001") == ({"nip": "198503122010012001"}, None)
    assert till_cart.buyer_of("0812-3456-7890") == ({"phone": "081234567890"}, None)
    assert till_cart.buyer_of("Asn@Example.id") == ({"email": "asn@example.id"}, None)
    assert till_cart.buyer_of("")[0] is None and till_cart.buyer_of("abc")[1]


async def test_staff_scan_search_and_change_the_cart_in_the_page() -> None:
    async with browsing() as browser:
        await staff(browser)
        page = await browser.open("/ntt-mart/kasir")
        assert page.status_code == 200 and "Kasir NTT Mart" in page.text and "Keranjang kosong" in page.text
        page = await browser.open("/ntt-mart/kasir?pindai=prd-kopi&jumlah=2")
        assert cart_in(str(page.url)) == ["prd-kopi:2"] and "Kopi Belu 250 g × 2 masuk keranjang" in page.text
        assert "Rp80.000" in page.text
        page = await browser.open("/ntt-mart/kasir?b=prd-kopi:2&pindai=prd-kopi&jumlah=5")
        assert cart_in(str(page.url)) == ["prd-kopi:2"] and "Stok rak Kopi Belu 250 g tinggal 3" in page.text
        page = await browser.open("/ntt-mart/kasir?b=prd-kopi:2&pindai=prd-tenun")
        assert "beberapa varian" in page.text and "Merah" in page.text and "habis" in page.text  # Biru is sold out
        page = await browser.open("/ntt-mart/kasir?b=prd-kopi:2&tambah=prd-tenun/var-merah&jumlah=1")
        assert cart_in(str(page.url)) == ["prd-kopi:2", "prd-tenun/var-merah:1"] and "Rp230.000" in page.text
        page = await browser.open("/ntt-mart/kasir?b=prd-kopi:2&b=prd-tenun/var-merah:1&ubah=prd-kopi&jumlah=0")
        assert cart_in(str(page.url)) == ["prd-tenun/var-merah:1"]
        page = await browser.open("/ntt-mart/kasir?pindai=%3Cscript%3Ealert(1)%3C/script%3E&jumlah=x")
        assert page.status_code == 200 and "<script>alert(1)" not in page.text and "Jumlah harus angka" in page.text
        page = await browser.open("/ntt-mart/kasir?q=%3Cb%3Etenun")
        assert "&lt;b&gt;tenun" in page.text and "<b>tenun" not in page.text


async def test_a_sale_names_its_buyer_by_nip_and_refusals_stay_in_the_form() -> None:
    async with browsing() as browser:
        await staff(browser)
        await browser.open("/ntt-mart/kasir?b=prd-kopi:2")
        why = "NIP ini belum terhubung dengan akun Beli NTT"
        refused = BackendError(422, why, [{"field": "buyer.nip", "message": why}])
        browser.services.on("POST", "orders", f"/outlets/{OUTLET}/sales", refused)
        typed = "1985 0312 2010 01 2 001 <i>"
        page = await browser.submit("/ntt-mart/kasir/jual", {"b": "prd-kopi:2", "pembeli": typed, "cara": "qris", "kunci": "a" * 32})
        assert page.status_code == 422 and "Isi e-mail, nomor HP" in page.text and "&lt;i&gt;" in page.text
        assert browser.services.sent("POST", "orders", f"/outlets/{OUTLET}/sales") == []
        body = {"b": "prd-kopi:2", "pembeli": "198503122010012001", "cara": "qris", "kunci": "a" * 32}
        page = await browser.submit("/ntt-mart/kasir/jual", body)
        assert page.status_code == 422 and "belum terhubung dengan akun Beli NTT" in page.text and 'value="prd-kopi:2"' in page.text
        sent = browser.services.sent("POST", "orders", f"/outlets/{OUTLET}/sales")[-1]
        assert sent["json"] == {
            "items": [{"product_id": "prd-kopi", "quantity": 2}],
            "payment_method": "qris",
            "buyer": {"nip": "198503122010012001"},
        }
        assert sent["headers"] == {"Idempotency-Key": "a" * 32}
        browser.services.on("POST", "orders", f"/outlets/{OUTLET}/sales", {"id": "BNTT-TILL1", "status": "PENDING"})
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", sale("PENDING"))
        page = await browser.submit("/ntt-mart/kasir/jual", body)
        assert str(page.url).endswith("/ntt-mart/kasir/penjualan/BNTT-TILL1") and 'http-equiv="refresh"' in page.text
        page = await browser.submit("/ntt-mart/kasir/jual", {"cara": "qris"})
        assert page.status_code == 422 and "Keranjang masih kosong" in page.text
        page = await browser.submit("/ntt-mart/kasir/jual", {"b": "prd-kopi:2", "pembeli": "x" * 5000, "cara": "tunai"})
        assert page.status_code == 422 and "Pilih cara bayar" in page.text and "Isi e-mail, nomor HP" in page.text


async def test_the_qris_code_is_drawn_and_followed_until_paid() -> None:
    async with browsing() as browser:
        await staff(browser)
        qr = "00020101021226620014COM.GO-JEK.WWW0118936009140000000000520454995303360540580000"
        waiting = sale("AWAITING_PAYMENT", payment={"qr_string": qr, "redirect_url": "http://x/qr", "token": None})
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", waiting)
        browser.services.on("GET", "payments", "/payments/BNTT-TILL1", {"status": "AWAITING_PAYMENT", "cash": None})
        page = await browser.open("/ntt-mart/kasir/penjualan/BNTT-TILL1")
        assert re.search(r'<svg role="img" aria-label="Kode QRIS pembayaran Rp80.000"[^>]*class="qr"', page.text)
        assert 'http-equiv="refresh"' in page.text and qr not in page.text  # drawn, never printed
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", sale("COMPLETED"))
        browser.services.on("GET", "payments", "/payments/BNTT-TILL1", {"status": "SETTLED", "cash": None})
        page = await browser.open("/ntt-mart/kasir/penjualan/BNTT-TILL1")
        assert "Lunas, barang diserahkan" in page.text and "<svg" not in page.text and 'http-equiv="refresh"' not in page.text
        assert "Barang dikembalikan pembeli" not in page.text  # QRIS refunds go through Midtrans


async def test_cash_is_taken_with_change_and_a_returned_sale_is_paid_back() -> None:
    async with browsing() as browser:
        await staff(browser)
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", sale("AWAITING_PAYMENT", "cash"))
        browser.services.on("GET", "payments", "/payments/BNTT-TILL1", {"status": "AWAITING_PAYMENT", "cash": None})
        page = await browser.open("/ntt-mart/kasir/penjualan/BNTT-TILL1")
        assert 'name="diterima"' in page.text and 'http-equiv="refresh"' not in page.text
        page = await browser.submit("/ntt-mart/kasir/penjualan/BNTT-TILL1/tunai", {"diterima": "lima puluh"})
        assert page.status_code == 422 and "Isi uang yang diterima" in page.text
        short = BackendError(422, "uang diterima kurang dari total Rp80000", [{"field": "received", "message": "x"}])
        browser.services.on("POST", "payments", f"/outlets/{OUTLET}/payments/BNTT-TILL1/cash", short)
        page = await browser.submit("/ntt-mart/kasir/penjualan/BNTT-TILL1/tunai", {"diterima": "50.000"})
        assert page.status_code == 422 and "kurang dari total" in page.text and 'value="50.000"' in page.text
        taken = {"received": 100_000, "change": 20_000, "taken_by": "acc-outlet", "status": "SETTLED"}
        browser.services.on("POST", "payments", f"/outlets/{OUTLET}/payments/BNTT-TILL1/cash", taken)
        cash = {"received": 100_000, "change": 20_000, "taken_by": "acc-outlet", "at": "2026-11-23T09:31:00Z"}
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", sale("COMPLETED", "cash"))
        browser.services.on("GET", "payments", "/payments/BNTT-TILL1", {"status": "SETTLED", "cash": cash})
        page = await browser.submit("/ntt-mart/kasir/penjualan/BNTT-TILL1/tunai", {"diterima": "Rp100.000"})
        assert "Kembalian: Rp20.000" in page.text and "Catat pengembalian tunai" in page.text
        assert browser.services.sent("POST", "payments", f"/outlets/{OUTLET}/payments/BNTT-TILL1/cash")[-1]["json"] == {"received": 100_000}
        browser.services.on("POST", "payments", f"/outlets/{OUTLET}/payments/BNTT-TILL1/cash-refund", {"status": "REFUNDED"})
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1", sale("COMPLETED", "cash", refunded_total=80_000))
        browser.services.on("GET", "payments", "/payments/BNTT-TILL1", {"status": "REFUNDED", "cash": cash})
        page = await browser.submit("/ntt-mart/kasir/penjualan/BNTT-TILL1/kembalikan", {"dikembalikan": "80000"})
        assert "Pengembalian tunai Rp80.000 dicatat" in page.text and "Dikembalikan Rp80.000" in page.text
        assert "Catat pengembalian tunai" not in page.text


async def test_the_days_sales_cancel_an_unpaid_one_and_download_the_cash_report() -> None:
    async with browsing() as browser:
        await staff(browser)
        sales = [sale("AWAITING_PAYMENT", "cash"), sale("COMPLETED", id="BNTT-TILL2")]
        browser.services.on("GET", "orders", f"/outlets/{OUTLET}/sales", lambda params, _: sales if params.get("day") else [])
        page = await browser.open("/ntt-mart/penjualan?hari=2026-02-31")  # not a date: today
        assert page.status_code == 200 and "Penjualan hari ini" in page.text and "Batalkan penjualan BNTT-TILL1" in page.text
        assert "Batalkan penjualan BNTT-TILL2" not in page.text and "laporan-kas?hari=" in page.text
        browser.services.on("POST", "orders", f"/outlets/{OUTLET}/sales/BNTT-TILL1/cancel", BackendError(409, "sudah dibayar"))
        page = await browser.submit("/ntt-mart/kasir/penjualan/BNTT-TILL1/batal", {"kembali": "daftar"})
        assert str(page.url).endswith("/ntt-mart/penjualan") and "tidak dapat dibatalkan: sudah dibayar" in page.text
