"""The staff pages against the real stack, as a browser without JavaScript would use them: a
seller registers and is verified in the operator console, lists a product with a variant and a
photo that shoppers then find; finance sees the levy of a paid order in the dashboard's chart
data, in the ledger and in the XLSX download; the seller ships the order."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator

import openpyxl
import pytest

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api, System, eventually

from .browsing import WebUser

pytestmark = pytest.mark.infra
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101001826dd8d0000000049454e44ae426082"
)
STRONG_PASSWORD = "Ikat-Rote-Ndao-Oelunggu-2026"


@pytest.fixture
async def web(system: System) -> AsyncIterator[str]:
    yield system.profile.service_url("web")


async def log_in(user: WebUser, email: str, password: str) -> None:
    await user.open("/masuk")
    response = await user.submit("/masuk", {"email": email, "password": password})
    assert response.status_code == 200 and "Keluar" in response.text, response.text[:1500]


async def test_seller_registers_is_verified_and_lists_a_product_shoppers_find(web: str, api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    seller, operator = WebUser(web), WebUser(web)
    try:
        await seller.sign_up("seller", name=f"Ina Ndao {tag}", password=STRONG_PASSWORD)
        page = await seller.open("/penjual")
        assert str(page.url).endswith("/penjual/daftar"), page.url
        business = f"Tenun Ina {tag}"
        page = await seller.submit(
            "/penjual/daftar",
            {
                "name": business,
                "owner_name": "Ina",
                "regency": "Rote Ndao",
                "village": "Desa Oelunggu",
                "ovop": "on",
                "email": f"ina-{tag}@umkm.example.id",
                "phone": "081237001001",
                "nik": "5314012345678901",
                "nib": "1234567890123",
                "bank": "Bank NTT",
                "account_number": "0012345678",
                "account_holder": "Ina",
            },
        )
        assert page.status_code == 200 and "Menunggu verifikasi" in page.text, page.text[:3000]

        await log_in(operator, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)
        queue = await operator.open("/operator/penjual")
        seller_id = re.search(rf'id="penjual-(slr-[^"]+)">\s*<div class="row"><span class="title">{business}', queue.text).group(1)
        assert "5314012345678901" not in queue.text and "8901" in queue.text and "1234567890123" not in queue.text
        verified = await operator.submit(f"/operator/penjual/{seller_id}/verifikasi")
        assert f"{business} terverifikasi" in verified.text

        await seller.open("/penjual/produk/baru")
        name = f"Kain tenun ikat Rote {tag}"
        response = await seller.http.post(
            "/penjual/produk/baru",
            data={
                "csrf_token": seller.csrf,
                "name": name,
                "category": "tenun",
                "stock": "0",
                "low_stock_threshold": "2",
                "variant_name": "Merah, 2 x 1 m",
                "variant_price": "850.000",
                "variant_stock": "5",
                "description": "Ditenun tangan",
            },
            files={"photo": ("kamera.png", PNG, "image/png")},
        )
        assert response.status_code == 200 and "tersimpan" in response.text and "Foto 1" in response.text, response.text[:3000]
        product_id = re.search(r"/penjual/produk/(prd-[^/?\"]+)", str(response.url)).group(1)
        found = await eventually(
            lambda: api.search(q=name), lambda r: any(i["id"] == product_id for i in r["items"]), what="the product in search"
        )
        item = next(i for i in found["items"] if i["id"] == product_id)
        assert item["price"] == 850_000 and len(item["photos"]) == 1
        detail = await api.stock_of(product_id)
        assert [v["name"] for v in detail["variants"]] == ["Merah, 2 x 1 m"]
    finally:
        await seller.close()
        await operator.close()


async def web_seller(web: str, api: Api, regency: str) -> tuple[WebUser, str]:
    """A seller who signed up and registered on the web, verified by the operator (through the API)."""
    user = WebUser(web)
    tag = uuid.uuid4().hex[:6]
    await user.sign_up("seller", name=f"Kopi {tag}", password=STRONG_PASSWORD)
    await user.open("/penjual/daftar")
    page = await user.submit(
        "/penjual/daftar",
        {"name": f"Kopi Bajawa {tag}", "regency": regency, "email": f"kopi-{tag}@umkm.example.id", "phone": "081237002002"},
    )
    assert "Menunggu verifikasi" in page.text, page.text[:2000]
    seller_id = (await api.catalog.get("/admin/sellers", params={"status": "pending", "limit": 200})).json()
    seller_id = next(s["id"] for s in seller_id if s["name"] == f"Kopi Bajawa {tag}")
    await api.verify_seller(seller_id)
    return user, seller_id


async def test_finance_sees_the_levy_of_a_paid_order_and_downloads_the_xlsx_then_the_seller_ships(web: str, api: Api) -> None:
    seller, _ = await web_seller(web, api, "Ngada")
    finance = WebUser(web)
    try:
        await seller.open("/penjual/produk/baru")
        page = await seller.submit(
            "/penjual/produk/baru", {"name": "Kopi Bajawa arabika 250 g", "category": "kopi", "price": "Rp 120.000", "stock": "10"}
        )
        product_id = re.search(r"/penjual/produk/(prd-[^/?\"]+)", str(page.url)).group(1)
        order_id = (await api.place([(product_id, 2)])).json()["id"]
        await api.payable(order_id)
        await api.pay(order_id)
        await api.order_reaches(order_id, "PAID")
        entries = await eventually(lambda: api.levy_entries(order_id), lambda r: len(r["items"]) == 1, what="levy entry")
        levy, period = entries["items"][0]["levy"], entries["items"][0]["period"]
        assert levy > 0

        tag = uuid.uuid4().hex[:6]
        staff = {
            "role": "finance",
            "name": "Bapenda NTT",
            "email": f"keuangan-{tag}@nttprov.example.id",
            "phone": "081300000001",
            "password": STRONG_PASSWORD,
        }
        created = await api.catalog.post("/auth/staff", json=staff)
        assert created.status_code == 201, created.text
        await log_in(finance, staff["email"], staff["password"])
        dashboard = await finance.open("/keuangan", period=period)
        regency_chart = dashboard.text[dashboard.text.index("PAD per kabupaten/kota") :]
        ngada = re.search(r"data-label='Ngada' data-value='(\d+)'", regency_chart)
        assert ngada and int(ngada.group(1)) >= levy
        ledger = await finance.open("/keuangan/buku-besar", order_id=order_id)
        assert f'data-order="{order_id}" data-levy="{levy}"' in ledger.text
        download = await finance.open("/keuangan/ekspor/buku-besar", period=period, order_id=order_id, format="xlsx")
        assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(download.content)).active
        cells = [cell.value for row in sheet.iter_rows() for cell in row]
        assert order_id in cells and levy in cells

        to_ship = await seller.open("/penjual/pesanan")
        assert order_id in to_ship.text and "Tandai dikirim" in to_ship.text
        shipped = await seller.submit(f"/penjual/pesanan/{order_id}/kirim", {"courier": "JNE", "tracking_number": "jne 0012345678"})
        assert "ditandai dikirim dengan JNE, resi JNE0012345678" in shipped.text, shipped.text[:3000]
        assert (await api.order(order_id))["sub_orders"][0]["status"] == "SHIPPED"
        statement = await seller.open("/penjual/laporan", period=period)
        assert order_id in statement.text and f"Rp{levy:,}".replace(",", ".") in statement.text
    finally:
        await seller.close()
        await finance.close()
