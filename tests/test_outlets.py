"""NTT Mart outlets (issue 12): the 22 seeded outlets, the operator managing them, staff accounts
bound to one outlet, and OutletChanged for every change."""

import uuid
from typing import Any

from beli_contracts import CATALOG_EVENTS
from beli_contracts.outlets import outlet_id_for
from beli_contracts.reference import REGENCIES
from infra.tokens import mint
from tests.support import Api, System, read_events

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
