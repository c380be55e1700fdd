"""The seller centre, the operator console and the finance office in a real browser (Chromium
through Playwright): a seller registers, is verified by the operator in the console, adds a
product with a photo (the file input the phone camera fills) and a variant, and shoppers find it
in search; it sells, the seller ships it; finance opens the dashboard, sees the levy in the chart
data and the ledger, and downloads the XLSX, which openpyxl opens. Every page passes axe-core (no
serious or critical violation) and is screenshotted at 390x844 and 1280x800."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api, System, eventually

from ..browsing import PASSWORD, WebUser
from .harness import audit

pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]
TIMEOUT_MS = 30_000


def woven_png(size: int = 240) -> bytes:
    """A small striped picture standing in for a photo from the phone's camera."""
    colours = [(138, 44, 13), (230, 180, 60), (20, 20, 20), (240, 235, 225)]
    rows = b"".join(b"\x00" + b"".join(bytes(colours[((x + y) // 20) % 4]) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def new_page(browser: Browser, system: System) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        base_url=system.profile.service_url("web"), viewport={"width": 390, "height": 844}, locale="id-ID", accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context, await context.new_page()


async def log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/masuk")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Kata sandi").fill(password)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("button", name="Keluar")).to_be_visible()


async def register_seller(page: Page, tag: str, mailbox_base: str) -> str:
    await page.goto("/daftar")
    await page.get_by_label("Berjualan (UMKM)").check()
    await page.get_by_label("Nama lengkap").fill("Ina Ndun")
    await page.get_by_label("E-mail").fill(f"ina-{tag}@umkm.example.id")
    await page.get_by_label("Nomor HP (WhatsApp)").fill(f"0812{int(tag, 16) % 10**8:08d}")
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    since = datetime.now(UTC)
    await page.get_by_role("button", name="Buat akun").click()
    await expect(page.get_by_role("heading", name="Verifikasi e-mail")).to_be_visible()
    mailbox = WebUser(mailbox_base)
    try:
        code = await mailbox.code_sent(f"ina-{tag}@umkm.example.id", since)
    finally:
        await mailbox.close()
    await page.get_by_label("Kode dari e-mail").fill(code)
    await page.get_by_role("button", name="Aktifkan akun").click()
    await expect(page.get_by_role("heading", name="Daftarkan usaha Anda")).to_be_visible()
    await audit(page, "penjual-daftar")
    business = f"Tenun Ikat Ina Ndao {tag}"
    await page.get_by_label("Nama usaha").fill(business)
    await page.get_by_label("Kabupaten/kota").select_option("Rote Ndao")
    await page.get_by_label("Desa/kelurahan").fill("Desa Oelunggu")
    await page.get_by_label("Usaha ini produk unggulan desanya").check()
    await page.get_by_label("NIK pemilik (16 angka)").fill("5314012345678901")
    await page.get_by_label("NIB (13 angka)").fill("1234567890123")
    await page.get_by_label("Bank", exact=True).fill("Bank NTT")
    await page.get_by_label("Nomor rekening").fill("0012345678")
    await page.get_by_label("Nama pemilik rekening").fill("Ina Ndun")
    await page.get_by_role("button", name="Kirim pendaftaran").click()
    await expect(page.get_by_role("heading", name="Menunggu verifikasi")).to_be_visible()
    await audit(page, "penjual-ringkasan-menunggu")
    return business


async def verify_in_console(page: Page, business: str) -> None:
    await log_in(page, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)
    await page.goto("/operator")
    await audit(page, "operator-ringkasan")
    await page.get_by_role("link", name="Penjual menunggu verifikasi").click()
    await expect(page.get_by_text(business)).to_be_visible()
    listing = await page.content()
    assert "5314012345678901" not in listing and "1234567890123" not in listing  # NIK and NIB masked
    await audit(page, "operator-verifikasi-penjual")
    await page.get_by_role("button", name=f"Verifikasi {business}").click()
    await expect(page.get_by_text(f"{business} terverifikasi")).to_be_visible()
    for path, name in (
        ("/operator/aturan-pad", "operator-aturan-pad"),
        ("/operator/surat-mati", "operator-event-gagal"),
        ("/operator/pengiriman-gagal", "operator-pesan-gagal"),
    ):
        await page.goto(path)
        await audit(page, name)


async def add_product(page: Page, name: str) -> str:
    await page.goto("/penjual/produk/baru")
    await audit(page, "penjual-produk-baru")
    await page.get_by_label("Foto produk").set_input_files({"name": "kamera.png", "mimeType": "image/png", "buffer": woven_png()})
    await page.get_by_label("Nama produk").fill(name)
    await page.get_by_label("Kategori").select_option("tenun")
    await page.get_by_label("Berat per unit (gram)").fill("400")
    await page.get_by_label("Peringatan bila stok di bawah").fill("3")
    await page.get_by_label("Deskripsi").fill("Kain tenun ikat motif Rote, ditenun tangan dengan pewarna alam.")
    await page.get_by_label("Nama varian").fill("Merah, 2 x 1 m")
    await page.get_by_label("Harga varian (Rp)").fill("850.000")
    await page.get_by_label("Stok varian").fill("5")
    await page.get_by_role("button", name="Simpan produk").click()
    await expect(page.get_by_text("tersimpan")).to_be_visible()
    await expect(page.get_by_role("img", name=f"Foto 1 {name}")).to_be_visible()
    await audit(page, "penjual-produk-ubah")
    product_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    await page.goto("/penjual/produk")
    await audit(page, "penjual-produk")
    return product_id


async def test_seller_operator_and_finance_in_the_browser(browser: Browser, system: System, api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    seller_context, seller = await new_page(browser, system)
    operator_context, operator = await new_page(browser, system)
    finance_context, finance = await new_page(browser, system)
    try:
        business = await register_seller(seller, tag, system.profile.service_url("messaging"))
        await verify_in_console(operator, business)
        name = f"Kain tenun ikat Rote {tag}"
        product_id = await add_product(seller, name)

        await seller.goto(f"/cari?q={name}")
        await expect(seller.get_by_role("link", name=name).first).to_be_visible()

        variant_id = (await api.stock_of(product_id))["variants"][0]["id"]
        customer = api.shopper()
        placed = await api.orders.post(
            "/orders",
            json={"customer": customer, "items": [{"product_id": product_id, "variant_id": variant_id, "quantity": 1}]},
            headers={"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(customer)},
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        await api.payable(order_id)
        await api.pay(order_id)
        await api.order_reaches(order_id, "PAID")
        entry = (await eventually(lambda: api.levy_entries(order_id), lambda r: len(r["items"]) == 1, what="levy entry"))["items"][0]

        await seller.goto("/penjual")
        await audit(seller, "penjual-ringkasan")
        await seller.get_by_role("link", name="Pesanan", exact=True).click()
        await expect(seller.get_by_text(order_id, exact=True)).to_be_visible()
        await audit(seller, "penjual-pesanan")
        shipment = seller.locator(f"#pesanan-{order_id}")
        await shipment.get_by_label("Kurir", exact=True).select_option("JNE")
        await shipment.get_by_label("Nomor resi").fill("JNE0012345678")
        await shipment.get_by_role("button", name="Tandai dikirim").click()
        await expect(seller.get_by_text("resi JNE0012345678")).to_be_visible()
        await seller.goto(f"/penjual/laporan?period={entry['period']}")
        await expect(seller.locator("#statement")).to_contain_text(order_id)
        await audit(seller, "penjual-laporan")

        staff = {
            "role": "finance",
            "name": "Bapenda NTT",
            "email": f"keuangan-{tag}@nttprov.example.id",
            "phone": "081300000002",
            "password": PASSWORD,
        }
        assert (await api.catalog.post("/auth/staff", json=staff)).status_code == 201
        await log_in(finance, staff["email"], staff["password"])
        await finance.goto(f"/keuangan?period={entry['period']}")
        rote = finance.locator("svg.chart rect[data-label='Rote Ndao']")
        assert int(await rote.get_attribute("data-value")) >= entry["levy"]
        category = finance.locator("svg.chart rect[data-label='Tenun']")
        assert int(await category.get_attribute("data-value")) >= entry["levy"]
        await audit(finance, "keuangan-dasbor")
        await finance.goto(f"/keuangan/buku-besar?order_id={order_id}")
        await expect(finance.locator(f"tr[data-order='{order_id}']")).to_have_attribute("data-levy", str(entry["levy"]))
        await audit(finance, "keuangan-buku-besar")
        async with finance.expect_download() as download_info:
            await finance.get_by_role("link", name="Unduh XLSX").click()
        download = await download_info.value
        assert download.suggested_filename.endswith(".xlsx")
        workbook = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))  # the temp file has no .xlsx suffix
        cells = [cell.value for row in workbook.active.iter_rows() for cell in row]
        assert order_id in cells and entry["levy"] in cells
        for path, page_name in (
            ("/keuangan/ekspor", "keuangan-ekspor"),
            ("/keuangan/pemeriksaan", "keuangan-pemeriksaan"),
            ("/keuangan/tutup-buku", "keuangan-tutup-buku"),
        ):
            await finance.goto(path)
            await audit(finance, page_name)
        await finance.get_by_role("button", name="Lanjut").click()
        await expect(finance.get_by_text("tidak dapat dibatalkan")).to_be_visible()
        await audit(finance, "keuangan-tutup-buku-konfirmasi")
    finally:
        for context in (seller_context, operator_context, finance_context):
            await context.close()
