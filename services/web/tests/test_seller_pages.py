"""Seller centre pages rendered against canned service answers: empty, many-item and error states."""

from __future__ import annotations

from typing import Any

from web.backend import BackendError

from .staff_fakes import browsing

SELLER = "slr-uji"


def seller(status: str = "verified") -> dict[str, Any]:
    return {
        "id": SELLER,
        "name": "Tenun Ikat Ina Ndao",
        "owner_name": "Ina",
        "regency": "Rote Ndao",
        "village": "Desa Oelunggu",
        "ovop": True,
        "email": "ina@example.id",
        "phone": "081237001001",
        "status": status,
        "nik": "************1234",
        "nib": None,
        "bank_account": {"bank": "Bank NTT", "account_number": "******7890", "account_holder": "Ina"},
    }


def product(index: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"prd-{index}",
        "seller_id": SELLER,
        "seller_name": "Tenun",
        "regency": "Rote Ndao",
        "name": f"Kain tenun {index}",
        "description": "",
        "category": "tenun",
        "price": 850_000 + index,
        "stock": 12,
        "reserved": 0,
        "sold": 3,
        "weight_grams": 400,
        "ovop_village": None,
        "ovop": False,
        "active": True,
        "visible": True,
        "low_stock_threshold": None,
        "variants": [],
        "photos": [],
        "created_at": "2026-03-01T00:00:00Z",
    } | changes


def sub_order(index: int, status: str = "PAID") -> dict[str, Any]:
    return {
        "order_id": f"BNTT-{index:04d}",
        "order_status": status,
        "seller_id": SELLER,
        "seller_name": "Tenun",
        "status": status,
        "lines": [
            {
                "product_id": "prd-1",
                "variant_id": None,
                "product_name": "Kain tenun 1",
                "category": "tenun",
                "quantity": 1,
                "unit_price": 850_000,
                "subtotal": 850_000,
                "levy": 8_500,
                "seller_payable": 841_500,
            }
        ],
        "gross": 850_000,
        "levy": 8_500,
        "seller_payable": 841_500,
        "courier": None,
        "tracking_number": None,
        "shipped_at": None,
        "completed_at": None,
        "completed_by": None,
        "customer": {"name": "Yohana", "phone": "081299990000"},
        "created_at": "2026-03-05T02:00:00Z",
        "paid_at": "2026-03-05T02:05:00Z",
    }


async def test_a_seller_without_a_profile_is_sent_to_register_and_sees_field_errors() -> None:
    async with browsing() as browser:
        await browser.log_in("seller")
        form = await browser.open("/penjual")
        assert str(form.url).endswith("/penjual/daftar") and "Daftarkan usaha" in form.text
        assert 'value="seller@uji.example.id"' in form.text  # the account's e-mail is offered
        browser.services.on(
            "POST",
            "catalog",
            "/sellers",
            BackendError(422, "data tidak valid", [{"field": "bank_account.account_number", "message": "hanya angka"}]),
        )
        refused = await browser.submit(
            "/penjual/daftar",
            {
                "name": "Tenun",
                "regency": "Rote Ndao",
                "email": "a@b.id",
                "phone": "0812345678",
                "bank": "Bank NTT",
                "account_number": "12ab",
                "account_holder": "Ina",
            },
        )
        assert refused.status_code == 400 and 'id="e-account_number"' in refused.text and "hanya angka" in refused.text
        assert 'value="Tenun"' in refused.text  # what was typed stays

        def created(params: dict, body: dict) -> dict:
            browser.services.account = browser.services.account | {"seller_id": SELLER}
            assert (
                body["bank_account"] == {"bank": "Bank NTT", "account_number": "1234567890", "account_holder": "Ina"}
                and body["ovop"] is True
            )
            return seller("pending")

        browser.services.on("POST", "catalog", "/sellers", created)
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}", seller("pending"))
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", [])
        browser.services.on("GET", "orders", f"/sellers/{SELLER}/orders", {"items": [], "next_cursor": None})
        done = await browser.submit(
            "/penjual/daftar",
            {
                "name": "Tenun",
                "regency": "Rote Ndao",
                "email": "a@b.id",
                "phone": "0812345678",
                "ovop": "on",
                "bank": "Bank NTT",
                "account_number": "1234 5678 90",
                "account_holder": "Ina",
            },
        )
        assert (
            str(done.url).endswith("/penjual")
            and "Menunggu verifikasi" in done.text
            and "Tidak ada pesanan yang menunggu dikirim" in done.text
        )


async def test_the_centre_shows_orders_to_ship_and_stock_low_warnings() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        low = product(1, low_stock_threshold=5, stock=2)
        variants = product(
            2,
            low_stock_threshold=3,
            variants=[{"id": "var-1", "name": "Merah", "price": 1, "stock": 1, "reserved": 0, "sold": 0, "active": True}],
        )
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}", seller())
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", [low, variants, product(3)])
        browser.services.on("GET", "orders", f"/sellers/{SELLER}/orders", {"items": [sub_order(1)], "next_cursor": "x"})
        centre = await browser.open("/penjual")
        assert "Usaha terverifikasi" in centre.text and "BNTT-0001" in centre.text and "1+" in centre.text
        assert "Kain tenun 1</a>" in centre.text and "Kain tenun 2 — Merah" in centre.text


async def test_product_list_empty_and_many() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", [])
        assert "Belum ada produk" in (await browser.open("/penjual/produk")).text
        many = [product(i, active=i % 7 != 0) for i in range(300)]
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", many)
        listing = await browser.open("/penjual/produk")
        assert listing.text.count('class="product-line"') == 300 and "Nonaktif" in listing.text


async def test_create_a_product_with_a_variant_and_a_camera_photo() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        form = await browser.open("/penjual/produk/baru")
        assert 'accept="image/*" capture="environment"' in form.text and 'enctype="multipart/form-data"' in form.text
        browser.services.on("POST", "catalog", "/products", lambda params, body: product(9, name=body["name"], variants=[]))
        browser.services.on("POST", "catalog", "/products/prd-9/photos", product(9))
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", [product(9, name="Kain Rote")])
        page = await browser.submit(
            "/penjual/produk/baru",
            {
                "name": "Kain Rote",
                "category": "tenun",
                "price": "",
                "stock": "0",
                "variant_name": "Merah",
                "variant_price": "Rp 900.000",
                "variant_stock": "4",
            },
            files={"photo": ("kamera.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")},
        )
        assert str(page.url).endswith("/penjual/produk/prd-9") and "Kain Rote" in page.text and "tersimpan" in page.text
        sent = browser.services.sent("POST", "catalog", "/products")[0]["json"]
        assert sent["variants"] == [{"name": "Merah", "price": 900_000, "stock": 4}] and "price" not in sent and sent["seller_id"] == SELLER
        upload = browser.services.sent("POST", "catalog", "/products/prd-9/photos")[0]["files"]["photo"]
        assert upload[0] == "kamera.jpg" and upload[1].startswith(b"\xff\xd8\xff")


async def test_a_refused_change_is_explained_and_a_big_photo_is_refused_before_upload() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        browser.services.on("GET", "catalog", f"/sellers/{SELLER}/products", [product(1)])
        browser.services.on(
            "PUT", "catalog", "/products/prd-1/stock", BackendError(422, "data tidak valid", [{"field": "stock", "message": "harus ≥ 0"}])
        )
        await browser.open("/penjual/produk/prd-1")
        page = await browser.submit("/penjual/produk/prd-1/stok", {"stock": "abc"})
        assert "Stok harus bilangan bulat" in page.text
        page = await browser.submit(
            "/penjual/produk/prd-1/foto", files={"photo": ("besar.jpg", b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024), "image/jpeg")}
        )
        assert "lebih dari 2 MB" in page.text and not browser.services.sent("POST", "catalog", "/products/prd-1/photos")
        assert (await browser.open("/penjual/produk/prd-404")).status_code == 404


async def test_orders_to_ship_empty_many_and_a_refused_shipment() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        browser.services.on("GET", "orders", f"/sellers/{SELLER}/orders", {"items": [], "next_cursor": None})
        assert "Tidak ada pesanan yang menunggu dikirim" in (await browser.open("/penjual/pesanan")).text
        browser.services.on(
            "GET", "orders", f"/sellers/{SELLER}/orders", {"items": [sub_order(i) for i in range(20)], "next_cursor": "abc"}
        )
        page = await browser.open("/penjual/pesanan")
        assert page.text.count('class="ship-form"') == 20 and 'rel="next"' in page.text
        path = f"/orders/BNTT-0001/sub-orders/{SELLER}/ship"
        browser.services.on("POST", "orders", path, BackendError(409, "sub-order is SHIPPED, not PAID"))
        page = await browser.submit(
            "/penjual/pesanan/BNTT-0001/kirim", {"courier": "lainnya", "courier_other": "Kapal Pelni", "tracking_number": "ab 123"}
        )
        assert "belum dikirim: sub-order is SHIPPED" in page.text
        assert browser.services.sent("POST", "orders", path)[0]["json"] == {"courier": "Kapal Pelni", "tracking_number": "AB123"}


async def test_statement_empty_and_an_outage() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", SELLER)
        empty = {
            "seller_id": SELLER,
            "lines": [],
            "next_cursor": None,
            "totals": {"entries": 0, "gross": 0, "levy": 0, "seller_payable": 0},
        }
        browser.services.on("GET", "payments", f"/sellers/{SELLER}/statement", empty)
        page = await browser.open("/penjual/laporan?period=2026-02")
        assert "Belum ada penjualan" in page.text and "Februari 2026" in page.text
        browser.services.on(
            "GET", "payments", f"/sellers/{SELLER}/statement", BackendError(0, "layanan payments sedang tidak dapat dihubungi")
        )
        down = await browser.open("/penjual/laporan")
        assert down.status_code == 502 and "tidak dapat dihubungi" in down.text


async def test_other_roles_cannot_open_the_seller_centre() -> None:
    async with browsing() as browser:
        assert "/masuk" in str((await browser.open("/penjual")).url)
        await browser.log_in("shopper")
        assert (await browser.open("/penjual/produk")).status_code == 403
