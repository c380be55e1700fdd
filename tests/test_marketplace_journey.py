"""Issue 4 end to end, as people use it: a seller signs up, an operator verifies it, the seller
lists a product with a variant and a photo; a shopper signs up, finds it by search and filter,
buys it together with another seller's product in one checkout; each seller ships, the shopper
confirms, and both sub-orders complete."""

import uuid
from typing import Any

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PASSWORD = "kata-sandi-panjang"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(api: Api, role: str, name: str) -> dict[str, Any]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.id"
    await api.sign_up(role, name, email, "081234567801", PASSWORD)
    login = await api.catalog.post("/auth/login", headers={"Authorization": ""}, json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return login.json()


async def open_shop(api: Api, admin: dict[str, str], name: str, regency: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Sign up, create the profile, be verified, then refresh to a token that names the shop."""
    tokens = await sign_up(api, "seller", name)
    profile = await api.catalog.post(
        "/sellers",
        headers=bearer(tokens["access_token"]),
        json={"name": name, "regency": regency, "village": "Desa Jenilu", "email": tokens["account"]["email"], "phone": "081234567802"},
    )
    assert profile.status_code == 201 and profile.json()["status"] == "pending", profile.text
    seller = profile.json()
    verified = await api.catalog.post(f"/admin/sellers/{seller['id']}/verify", headers=admin)
    assert verified.status_code == 200 and verified.json()["status"] == "verified", verified.text
    refreshed = await api.catalog.post("/auth/refresh", headers={"Authorization": ""}, json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.json()["account"]["seller_id"] == seller["id"]
    return seller, bearer(refreshed.json()["access_token"])


async def test_seller_to_shopper_journey_with_two_sellers(api: Api) -> None:
    login = await api.catalog.post(
        "/auth/login", headers={"Authorization": ""}, json={"email": DEV_ADMIN_EMAIL, "password": DEV_ADMIN_PASSWORD}
    )
    admin = bearer(login.json()["access_token"])
    weaver, as_weaver = await open_shop(api, admin, "Tenun Lembata Ile Ape", "Lembata")
    roaster, as_roaster = await open_shop(api, admin, "Kopi Flores Bajawa Jaya", "Ngada")

    word = f"ikat{uuid.uuid4().hex[:5]}"
    cloth = await api.catalog.post(
        "/products",
        headers=as_weaver,
        json={
            "seller_id": weaver["id"],
            "name": f"Sarung tenun {word} Lembata",
            "description": "Tenun ikat pewarna alami",
            "category": "tenun",
            "weight_grams": 700,
            "variants": [{"name": "Merah", "price": 650_000, "stock": 3}, {"name": "Biru", "price": 600_000, "stock": 2}],
        },
    )
    assert cloth.status_code == 201, cloth.text
    cloth = cloth.json()
    red = next(v for v in cloth["variants"] if v["name"] == "Merah")
    visible = await api.catalog.get(f"/products/{cloth['id']}", headers={"Authorization": ""})
    assert visible.status_code == 200  # the seller was verified before listing
    photo = await api.catalog.post(f"/products/{cloth['id']}/photos", headers=as_weaver, files={"photo": ("kain.png", PNG, "image/png")})
    assert photo.status_code == 201, photo.text
    served = await api.catalog.get(f"/products/{cloth['id']}/photos/{photo.json()['photos'][0]['id']}", headers={"Authorization": ""})
    assert served.status_code == 200 and served.headers["content-type"] == "image/png" and served.content == PNG
    coffee = await api.catalog.post(
        "/products",
        headers=as_roaster,
        json={"seller_id": roaster["id"], "name": "Kopi Arabika Bajawa 250 g", "category": "kopi", "price": 85_000, "stock": 10},
    )
    assert coffee.status_code == 201, coffee.text
    coffee = coffee.json()
    stolen = await api.catalog.patch(f"/products/{coffee['id']}", headers=as_weaver, json={"price": 1})
    assert stolen.status_code == 404  # another seller's listing

    shopper = await sign_up(api, "shopper", "Maria Goreti (ASN)")
    as_shopper = bearer(shopper["access_token"])
    found = await api.catalog.get(
        "/products", headers=as_shopper, params={"q": word, "regency": "Lembata", "category": "tenun", "facets": "true"}
    )
    assert [p["id"] for p in found.json()["items"]] == [cloth["id"]]
    assert {"value": "Lembata", "count": 1} in found.json()["facets"]["regency"]

    customer = {k: shopper["account"][k] for k in ("name", "email", "phone")}
    placed = await api.orders.post(
        "/orders",
        headers={**as_shopper, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "customer": customer,
            "items": [{"product_id": cloth["id"], "variant_id": red["id"], "quantity": 1}, {"product_id": coffee["id"], "quantity": 2}],
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    order = await api.payable(order_id)
    assert order["total"] == 650_000 + 2 * 85_000
    await api.pay(order_id)
    paid = await api.order_reaches(order_id, "PAID")
    assert {s["seller_id"]: s["status"] for s in paid["sub_orders"]} == {weaver["id"]: "PAID", roaster["id"]: "PAID"}
    assert sum(s["gross"] for s in paid["sub_orders"]) == paid["total"] and sum(s["levy"] for s in paid["sub_orders"]) == paid["levy_total"]

    mine = await api.orders.get(f"/sellers/{weaver['id']}/orders", headers=as_weaver, params={"status": "PAID"})
    assert [o["order_id"] for o in mine.json()["items"]] == [order_id]
    assert (await api.orders.get(f"/sellers/{roaster['id']}/orders", headers=as_weaver)).status_code == 404
    wrong = await api.orders.post(
        f"/orders/{order_id}/sub-orders/{roaster['id']}/ship", headers=as_weaver, json={"courier": "JNE", "tracking_number": "X1"}
    )
    assert wrong.status_code == 404  # a seller ships only its own parcel
    for seller, token, tracking in ((weaver, as_weaver, "JNE0012345678"), (roaster, as_roaster, "POS9988776655")):
        shipped = await api.orders.post(
            f"/orders/{order_id}/sub-orders/{seller['id']}/ship", headers=token, json={"courier": "JNE", "tracking_number": tracking}
        )
        assert shipped.status_code == 200 and shipped.json()["status"] == "SHIPPED", shipped.text
    other_shopper = await sign_up(api, "shopper", "Orang Lain")
    assert (
        await api.orders.post(f"/orders/{order_id}/sub-orders/{weaver['id']}/confirm", headers=bearer(other_shopper["access_token"]))
    ).status_code == 404
    for seller in (weaver, roaster):
        confirmed = await api.orders.post(f"/orders/{order_id}/sub-orders/{seller['id']}/confirm", headers=as_shopper)
        assert confirmed.status_code == 200, confirmed.text
    final = (await api.orders.get(f"/orders/{order_id}", headers=as_shopper)).json()
    assert final["status"] == "COMPLETED"
    assert [s["status"] for s in final["sub_orders"]] == ["COMPLETED", "COMPLETED"]
    variant_left = next(v for v in (await api.stock_of(cloth["id"]))["variants"] if v["id"] == red["id"])
    assert variant_left["stock"] == 2
