"""NTT Mart outlets (issue 12): the 22 seeded outlets, the operator managing them, staff accounts
bound to one outlet, and OutletChanged for every change."""

import csv
import io
import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from openpyxl import load_workbook

from beli_contracts import CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, PROGRAMME_EVENTS
from beli_contracts.outlets import outlet_id_for
from beli_contracts.reference import REGENCIES
from infra.tokens import mint
from tests.programme_support import import_opds, import_roster, new_nip, tag
from tests.support import Api, System, eventually, read_events

PASSWORD = "kata-sandi-panjang-outlet"


async def outlet_staff(api: Api, outlet_id: str) -> dict[str, Any]:
    """An outlet staff account created by the operator, signed in: its tokens."""
    email = f"staf-{uuid.uuid4().hex[:8]}@ntt-mart.example.id"
    created = await api.catalog.post(
        "/auth/staff",
        json={"role": "outlet", "name": "Staf Toko", "email": email, "phone": "081234567890", "password": PASSWORD, "outlet_id": outlet_id},
    )
    assert created.status_code == 201, created.text
    assert created.json()["outlet_id"] == outlet_id
    login = await api.catalog.post("/auth/login", headers={"Authorization": ""}, json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return login.json()


async def test_the_22_outlets_are_seeded_and_open(api: Api) -> None:
    listed = (await api.catalog.get("/outlets", headers={"Authorization": ""})).raise_for_status().json()
    ids = {outlet["id"] for outlet in listed}
    assert {outlet_id_for(regency) for regency in REGENCIES} <= ids
    belu = (await api.catalog.get("/outlets/ntt-mart-belu", headers={"Authorization": ""})).json()
    assert belu["name"] == "NTT Mart Belu" and belu["regency"] == "Belu" and belu["active"] is True
    assert belu["opening_hours"]
    assert belu["address"] == "Atambua, Kabupaten Belu, Nusa Tenggara Timur"  # the town, not the outlet's name again
    assert not [outlet["address"] for outlet in listed if outlet["name"] in outlet["address"]]


async def test_the_operator_manages_outlets_and_each_change_is_announced(api: Api, system: System) -> None:
    outlet_id = f"ntt-mart-alor-{uuid.uuid4().hex[:6]}"
    body = {"regency": "Alor", "outlet_id": outlet_id, "address": "Jl. Soekarno-Hatta, Kalabahi", "phone": "0386123456"}
    created = await api.catalog.post("/admin/outlets", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "NTT Mart Alor"
    assert (await api.catalog.post("/admin/outlets", json=body)).status_code == 409
    changed = await api.catalog.patch(f"/admin/outlets/{outlet_id}", json={"opening_hours": "Setiap hari 07.00–21.00"})
    assert changed.status_code == 200 and changed.json()["opening_hours"] == "Setiap hari 07.00–21.00"
    closed = await api.catalog.patch(f"/admin/outlets/{outlet_id}", json={"active": False})
    assert closed.json()["active"] is False
    anonymous = {"Authorization": ""}
    assert (await api.catalog.get(f"/outlets/{outlet_id}", headers=anonymous)).status_code == 404
    assert outlet_id not in {o["id"] for o in (await api.catalog.get("/outlets", headers=anonymous)).json()}
    events = await read_events(
        system.endpoints.kafka_bootstrap, CATALOG_EVENTS, lambda e: e.type == "catalog.outlet_changed" and e.key == outlet_id, count=3
    )
    assert [e.data["revision"] for e in events] == [1, 2, 3]
    assert events[-1].data["active"] is False and events[1].data["opening_hours"] == "Setiap hari 07.00–21.00"


async def test_seeded_outlets_are_announced(system: System) -> None:
    events = await read_events(
        system.endpoints.kafka_bootstrap,
        CATALOG_EVENTS,
        lambda e: e.type == "catalog.outlet_changed" and e.key == "ntt-mart-sikka",
        count=1,
    )
    assert events[0].data["name"] == "NTT Mart Sikka" and events[0].data["revision"] == 1


async def test_outlet_staff_are_bound_to_one_open_outlet(api: Api) -> None:
    staff = await outlet_staff(api, "ntt-mart-belu")
    assert staff["account"]["role"] == "outlet" and staff["account"]["outlet_id"] == "ntt-mart-belu"
    me = await api.catalog.get("/auth/me", headers={"Authorization": f"Bearer {staff['access_token']}"})
    assert me.status_code == 200 and me.json()["outlet_id"] == "ntt-mart-belu"
    base = {"role": "outlet", "name": "Staf", "phone": "081234567890", "password": PASSWORD}
    no_outlet = await api.catalog.post("/auth/staff", json=base | {"email": f"x-{uuid.uuid4().hex[:6]}@example.id"})
    assert no_outlet.status_code == 422
    unknown = await api.catalog.post(
        "/auth/staff", json=base | {"email": f"y-{uuid.uuid4().hex[:6]}@example.id", "outlet_id": "ntt-mart-atlantis"}
    )
    assert unknown.status_code == 422
    staff_token = {"Authorization": f"Bearer {staff['access_token']}"}
    refused = await api.catalog.post(
        "/admin/outlets", headers=staff_token, json={"regency": "Belu", "address": "x y", "phone": "0389123456"}
    )
    assert refused.status_code == 403
    assert mint("outlet", outlet_id="ntt-mart-belu")  # the dev mint knows the role too


async def test_sellers_consign_units_to_an_outlet_shelf_that_only_its_staff_see(api: Api) -> None:
    seller = await api.seller("Belu")
    product = await api.product(seller, price=40_000, stock=7, category="kopi", name="Kopi Belu 250 g")
    consigned = await api.catalog.put(f"/outlets/ntt-mart-belu/stock/{product['id']}", headers=api.as_seller(seller), json={"stock": 5})
    assert consigned.status_code == 200, consigned.text
    assert consigned.json()["stock"] == 5 and consigned.json()["unit_price"] == 40_000
    assert (await api.stock_of(product["id"]))["stock"] == 7  # the online stock is another count
    belu, sikka = await outlet_staff(api, "ntt-mart-belu"), await outlet_staff(api, "ntt-mart-sikka")
    as_belu = {"Authorization": f"Bearer {belu['access_token']}"}
    as_sikka = {"Authorization": f"Bearer {sikka['access_token']}"}
    shelf = (await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=as_belu)).json()
    assert {(line["product_id"], line["stock"]) for line in shelf} >= {(product["id"], 5)}
    assert (await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=as_sikka)).status_code == 404
    sikka_shelf = (await api.catalog.get("/outlets/ntt-mart-sikka/stock", headers=as_sikka)).json()
    assert product["id"] not in {line["product_id"] for line in sikka_shelf}
    # Staff do not consign (sellers bring the goods): refused, and the shelf is unchanged.
    refused = await api.catalog.put(f"/outlets/ntt-mart-belu/stock/{product['id']}", headers=as_belu, json={"stock": 99})
    assert refused.status_code in (403, 404)
    other = await api.seller("Alor")
    assert (
        await api.catalog.put(f"/outlets/ntt-mart-belu/stock/{product['id']}", headers=api.as_seller(other), json={"stock": 1})
    ).status_code == 404
    mine = (await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=api.as_seller(other))).json()
    assert all(line["seller_id"] == other["id"] for line in mine)


# --- in-store sales -------------------------------------------------------------------------


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def shelf_product(api: Api, outlet_id: str, *, price: int, online: int, shelf: int) -> dict[str, Any]:
    seller = await api.seller("Belu")
    product = await api.product(seller, price=price, stock=online, category="tenun", name="Selendang tenun Belu")
    consigned = await api.catalog.put(f"/outlets/{outlet_id}/stock/{product['id']}", headers=api.as_seller(seller), json={"stock": shelf})
    assert consigned.status_code == 200, consigned.text
    return product


async def sell(api: Api, staff: dict[str, Any], outlet_id: str, body: dict[str, Any]) -> str:
    """Rings up a sale; retried while the buyer's account has not reached orders yet (422)."""
    key = uuid.uuid4().hex

    async def attempt() -> Any:
        return await api.orders.post(f"/outlets/{outlet_id}/sales", headers=bearer(staff) | {"Idempotency-Key": key}, json=body)

    response = await eventually(attempt, lambda r: r.status_code != 422, what="the sale to be accepted")
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def sale_reaches(api: Api, staff: dict[str, Any], outlet_id: str, order_id: str, accept: Any, what: str) -> dict[str, Any]:
    async def sale() -> dict[str, Any]:
        return (await api.orders.get(f"/outlets/{outlet_id}/sales/{order_id}", headers=bearer(staff))).json()

    return await eventually(sale, accept, timeout=60, what=what)


async def till_ready(api: Api, staff: dict[str, Any], order_id: str) -> None:
    """The till may take the cash once payments holds the priced sale."""

    async def payment() -> Any:
        return await api.payments.get(f"/payments/{order_id}", headers=bearer(staff))

    await eventually(payment, lambda r: r.status_code == 200 and r.json()["status"] == "AWAITING_PAYMENT", timeout=60, what="the till")


async def test_an_in_store_qris_sale_sells_the_outlet_shelf_and_lands_in_the_ledger(api: Api, system: System) -> None:
    product = await shelf_product(api, "ntt-mart-belu", price=45_000, online=7, shelf=5)
    staff = await outlet_staff(api, "ntt-mart-belu")
    buyer = await api.sign_up("shopper", "Yosef Asn", f"asn-{uuid.uuid4().hex[:8]}@example.id", "081234567891", "kata-sandi-panjang")
    body = {
        "items": [{"product_id": product["id"], "quantity": 2}],
        "payment_method": "qris",
        "buyer": {"email": buyer["account"]["email"]},
    }
    order_id = await sell(api, staff, "ntt-mart-belu", body)
    sale = await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o.get("payment") is not None, "the QRIS code")
    assert sale["channel"] == "outlet:ntt-mart-belu" and sale["payment_method"] == "qris" and sale["total"] == 90_000
    assert sale["payment"]["qr_string"].startswith("000201") and "generate" not in sale["payment"]["redirect_url"]
    assert sale["customer"]["account_id"] == buyer["account"]["id"]
    await api.pay(order_id)
    done = await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o["status"] == "COMPLETED", "the goods to leave the till")
    assert [sub["completed_by"] for sub in done["sub_orders"]] == ["outlet"]

    async def shelf_line() -> tuple[int, int, int]:
        shelf = (await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=bearer(staff))).json()
        line = next(line for line in shelf if line["product_id"] == product["id"])
        return line["stock"], line["reserved"], line["sold"]

    # Catalog commits the units when it reads the paid event (orders may say COMPLETED first).
    await eventually(shelf_line, lambda units: units == (3, 0, 2), what="the shelf's units to be sold")
    online = await api.stock_of(product["id"])
    assert online["stock"] == 7  # the online stock never moved
    entries = await eventually(lambda: api.levy_entries(order_id), lambda e: e["items"], what="levy entries")
    assert {entry["channel"] for entry in entries["items"]} == {"outlet:ntt-mart-belu"} and entries["total_gross"] == 90_000
    paid = await read_events(
        system.endpoints.kafka_bootstrap, ORDERS_EVENTS, lambda e: e.type == "orders.order_paid" and e.key == order_id, count=1
    )
    # The programme counts paid orders by the buyer's account: the in-store sale carries it like an online one.
    assert paid[0].data["customer"]["account_id"] == buyer["account"]["id"] and paid[0].data["channel"] == "outlet:ntt-mart-belu"
    await finance_sees_the_channel(api, order_id, "outlet:ntt-mart-belu", 90_000)


async def finance_sees_the_channel(api: Api, order_id: str, channel: str, gross: int) -> None:
    """The finance office filters and groups the ledger by channel, in the API and the exports."""
    listed = (await api.payments.get("/finance/ledger", params={"channel": channel, "order_id": order_id})).json()["items"]
    assert sum(entry["gross"] for entry in listed) == gross
    assert (await api.payments.get("/finance/ledger", params={"channel": "online", "order_id": order_id})).json()["items"] == []
    assert len((await api.payments.get("/finance/ledger", params={"channel": "outlet", "order_id": order_id})).json()["items"]) == len(
        listed
    )
    summary = (await api.payments.get("/finance/summary", params={"group_by": "channel"})).json()
    assert next(row for row in summary["rows"] if row["key"] == channel)["gross"] >= gross
    exported = await api.payments.get("/finance/exports/ledger", params={"channel": channel, "order_id": order_id, "format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {row[rows[0].index("Kanal Penjualan")] for row in rows[1:-1]} == {channel}


async def test_a_cash_sale_is_settled_at_the_till_and_appears_in_the_daily_cash_report(api: Api) -> None:
    product = await shelf_product(api, "ntt-mart-belu", price=30_000, online=2, shelf=4)
    staff = await outlet_staff(api, "ntt-mart-belu")
    order_id = await sell(api, staff, "ntt-mart-belu", {"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "cash"})
    await till_ready(api, staff, order_id)
    cash_url = f"/outlets/ntt-mart-belu/payments/{order_id}/cash"
    short = await api.payments.post(cash_url, headers=bearer(staff), json={"received": 20_000})
    assert short.status_code == 422
    taken = await api.payments.post(cash_url, headers=bearer(staff), json={"received": 50_000})
    assert taken.status_code == 200, taken.text
    assert (taken.json()["status"], taken.json()["change"], taken.json()["taken_by"]) == ("SETTLED", 20_000, staff["account"]["id"])
    again = await api.payments.post(cash_url, headers=bearer(staff), json={"received": 50_000})
    assert again.json() == taken.json()  # a double tap records the cash once
    await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o["status"] == "COMPLETED", "the cash sale to complete")
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d")
    todays = (await api.orders.get("/outlets/ntt-mart-belu/sales", headers=bearer(staff), params={"day": today})).json()
    assert order_id in {sale["id"] for sale in todays}  # the till's list of the day (WITA)
    assert (await api.orders.get("/outlets/ntt-mart-belu/sales", headers=bearer(staff), params={"day": "2020-01-01"})).json() == []
    assert (await api.orders.get("/outlets/ntt-mart-belu/sales", headers=bearer(staff), params={"day": "2026-02-31"})).status_code == 422
    report = await api.payments.get("/outlets/ntt-mart-belu/cash-report", headers=bearer(staff), params={"format": "csv"})
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Waktu (WITA)", "Nomor Pesanan", "Cara Bayar", "Penjualan (Rp)"]
    mine = next(row for row in rows if row[1] == order_id)
    assert mine[2:8] == ["tunai", "30000", mine[4], str(30_000 - int(mine[4])), "30000", staff["account"]["id"]]
    assert rows[-1][0] == "TOTAL" and int(rows[-1][6]) >= 30_000
    workbook = load_workbook(io.BytesIO((await api.payments.get("/outlets/ntt-mart-belu/cash-report", params={"format": "xlsx"})).content))
    cells = [cell for row in workbook.active.iter_rows() for cell in row]
    assert order_id in {cell.value for cell in cells} and all(cell.data_type != "f" for cell in cells)


async def test_staff_of_one_outlet_cannot_see_or_act_on_another_outlets_stock_or_sales(api: Api) -> None:
    product = await shelf_product(api, "ntt-mart-belu", price=20_000, online=1, shelf=2)
    belu, sikka = await outlet_staff(api, "ntt-mart-belu"), await outlet_staff(api, "ntt-mart-sikka")
    order_id = await sell(api, belu, "ntt-mart-belu", {"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "cash"})
    await till_ready(api, belu, order_id)
    as_sikka = bearer(sikka)
    item = {"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "cash"}
    refused = [
        await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=as_sikka),
        await api.orders.get("/outlets/ntt-mart-belu/sales", headers=as_sikka),
        await api.orders.get(f"/outlets/ntt-mart-belu/sales/{order_id}", headers=as_sikka),
        await api.orders.get(f"/outlets/ntt-mart-sikka/sales/{order_id}", headers=as_sikka),
        await api.orders.post("/outlets/ntt-mart-belu/sales", headers=as_sikka | {"Idempotency-Key": uuid.uuid4().hex}, json=item),
        await api.orders.post(f"/outlets/ntt-mart-belu/sales/{order_id}/cancel", headers=as_sikka),
        await api.payments.post(f"/outlets/ntt-mart-belu/payments/{order_id}/cash", headers=as_sikka, json={"received": 20_000}),
        await api.payments.post(f"/outlets/ntt-mart-sikka/payments/{order_id}/cash", headers=as_sikka, json={"received": 20_000}),
        await api.payments.get(f"/payments/{order_id}", headers=as_sikka),
        await api.payments.get("/outlets/ntt-mart-belu/cash-report", headers=as_sikka),
        await api.orders.get(f"/orders/{order_id}", headers=as_sikka),
    ]
    assert [r.status_code for r in refused] == [404] * len(refused), [(r.request.url.path, r.status_code) for r in refused]
    # Nothing happened to Belu's sale: still waiting for its cash, and Belu's staff can cancel it.
    cancelled = await api.orders.post(f"/outlets/ntt-mart-belu/sales/{order_id}/cancel", headers=bearer(belu))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"


async def test_an_in_store_qris_sale_for_an_asn_named_by_nip_counts_toward_the_commitment(api: Api, system: System) -> None:
    rng, t = random.Random(), tag()
    opd = f"prov-biro-ekonomi-{t}"
    await import_opds(api, [(opd, "Biro Ekonomi Setda NTT", "Provinsi NTT")])
    email, phone = f"asn-{t}@nttprov.example.id", f"0812{rng.randint(10**7, 10**8 - 1)}"
    buyer = await api.sign_up("shopper", "Maria Asn", email, phone, "kata-sandi-panjang")
    nip = new_nip(rng, "2")
    await import_roster(api, [[nip, "Maria Asn", opd, email, phone]])
    linked = await api.programme.post("/programme/me/nip", headers=bearer(buyer), json={"nip": nip})
    assert linked.status_code == 201 and linked.json()["status"] == "linked", linked.text
    product = await shelf_product(api, "ntt-mart-belu", price=55_000, online=4, shelf=3)
    staff = await outlet_staff(api, "ntt-mart-belu")
    line = [{"product_id": product["id"], "quantity": 2}]
    stranger = {"items": line, "payment_method": "qris", "buyer": {"nip": new_nip(rng)}}
    refused = await api.orders.post(
        "/outlets/ntt-mart-belu/sales", headers=bearer(staff) | {"Idempotency-Key": uuid.uuid4().hex}, json=stranger
    )
    assert refused.status_code == 422 and "belum terhubung" in refused.json()["message"]
    spaced = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"  # typed as printed on the ASN's card
    order_id = await sell(api, staff, "ntt-mart-belu", {"items": line, "payment_method": "qris", "buyer": {"nip": spaced}})
    sale = await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o.get("payment") is not None, "the QRIS code")
    assert sale["customer"]["account_id"] == buyer["account"]["id"] and sale["channel"] == "outlet:ntt-mart-belu"
    await api.pay(order_id)
    await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o["status"] == "COMPLETED", "the goods to leave the till")

    async def shelf_units() -> tuple[int, int, int]:
        shelf = (await api.catalog.get("/outlets/ntt-mart-belu/stock", headers=bearer(staff))).json()
        found = next(level for level in shelf if level["product_id"] == product["id"])
        return found["stock"], found["reserved"], found["sold"]

    await eventually(shelf_units, lambda units: units == (1, 0, 2), what="the shelf's units to be sold")
    assert (await api.stock_of(product["id"]))["stock"] == 4  # the online stock never moved
    entries = await eventually(lambda: api.levy_entries(order_id), lambda e: e["items"], what="levy entries")
    assert {entry["channel"] for entry in entries["items"]} == {"outlet:ntt-mart-belu"} and entries["total_gross"] == 110_000

    async def progress() -> dict[str, Any]:
        return (await api.programme.get("/programme/me/progress", headers=bearer(buyer))).json()

    counted = await eventually(progress, lambda p: p["spent"] == 110_000, timeout=60, what="the ASN's spending")
    assert counted["met"] is True and order_id in {row["order_id"] for row in counted["orders"]}
    announced = await read_events(
        system.endpoints.kafka_bootstrap,
        PROGRAMME_EVENTS,
        lambda e: e.type == "programme.nip_linked" and e.key == buyer["account"]["id"],
        count=1,
    )
    assert announced[0].data["nip_masked"] == "*" * 14 + nip[-4:] and nip not in json.dumps(announced[0].data)


async def test_a_returned_cash_sale_is_paid_back_at_the_till_with_its_levy_reversed(api: Api, system: System) -> None:
    product = await shelf_product(api, "ntt-mart-belu", price=25_000, online=1, shelf=3)
    staff = await outlet_staff(api, "ntt-mart-belu")
    order_id = await sell(api, staff, "ntt-mart-belu", {"items": [{"product_id": product["id"], "quantity": 2}], "payment_method": "cash"})
    await till_ready(api, staff, order_id)
    pay_back = f"/outlets/ntt-mart-belu/payments/{order_id}/cash-refund"
    assert (await api.payments.post(pay_back, headers=bearer(staff), json={"paid_back": 50_000})).status_code == 409  # unpaid
    taken = await api.payments.post(f"/outlets/ntt-mart-belu/payments/{order_id}/cash", headers=bearer(staff), json={"received": 50_000})
    assert taken.status_code == 200, taken.text
    await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o["status"] == "COMPLETED", "the cash sale to complete")
    partial = await api.payments.post(pay_back, headers=bearer(staff), json={"paid_back": 25_000})
    assert partial.status_code == 422 and "Rp50.000" in partial.json()["message"]  # a returned sale is paid back whole
    sikka = await outlet_staff(api, "ntt-mart-sikka")
    assert (await api.payments.post(pay_back, headers=bearer(sikka), json={"paid_back": 50_000})).status_code == 404
    refunded = await api.payments.post(pay_back, headers=bearer(staff), json={"paid_back": 50_000})
    assert refunded.status_code == 200, refunded.text
    assert (refunded.json()["status"], refunded.json()["paid_by"], refunded.json()["amount"]) == ("DONE", staff["account"]["id"], 50_000)
    again = await api.payments.post(pay_back, headers=bearer(staff), json={"paid_back": 50_000})
    assert again.json() == refunded.json()  # a double tap records the cash once
    payment = (await api.payments.get(f"/payments/{order_id}", headers=bearer(staff))).json()
    assert payment["status"] == "REFUNDED" and payment["cash_refund"]["paid_back"] == 50_000
    entries = (await api.levy_entries(order_id))["items"]
    assert sorted(entry["kind"] for entry in entries) == ["levy", "reversal"] and sum(entry["levy"] for entry in entries) == 0
    reversed_ = await read_events(
        system.endpoints.kafka_bootstrap, PAYMENTS_EVENTS, lambda e: e.type == "payments.levy_reversed" and e.key == order_id, count=1
    )
    assert reversed_[0].data["refund_amount"] == 50_000 and reversed_[0].data["entries"][0]["channel"] == "outlet:ntt-mart-belu"
    sale = await sale_reaches(api, staff, "ntt-mart-belu", order_id, lambda o: o["refunded_total"] == 50_000, "the sale to show refunded")
    assert sale["status"] == "COMPLETED"  # the sale happened; its money went back
    report = await api.payments.get("/outlets/ntt-mart-belu/cash-report", headers=bearer(staff), params={"format": "csv"})
    rows = [row for row in csv.reader(io.StringIO(report.content.decode("utf-8-sig"))) if row[1] == order_id]
    assert [(row[2], row[3], row[6], row[7]) for row in rows] == [
        ("tunai", "50000", "50000", staff["account"]["id"]),
        ("pengembalian tunai", "-50000", "-50000", staff["account"]["id"]),
    ]
