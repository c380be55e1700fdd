"""Personal data in public (issue 14, item 6): anonymous callers see a verified seller's public
view only; pending sellers and photos of hidden products are 404 to them; the seller's own
account and operators see everything."""

import uuid

from tests.security.test_inputs import PNG_HEADER
from tests.support import Api

ANONYMOUS = {"Authorization": ""}
PUBLIC_FIELDS = {"id", "name", "regency", "village", "ovop"}
PRIVATE = {"email", "phone", "nik", "nib", "bank_account", "owner_name", "status"}


async def test_the_public_sees_a_public_seller_view_and_owner_and_operator_see_all(api: Api) -> None:
    details = {
        "owner_name": "Maria Goreti",
        "nik": "5301234567890001",
        "nib": "1234567890123",
        "bank_account": {"bank": "Bank NTT", "account_number": "0011223344", "account_holder": "Maria Goreti"},
    }
    pending = await api.pending_seller("Flores Timur", **details)
    seller = await api.verify_seller(pending["id"])

    public = await api.catalog.get(f"/sellers/{seller['id']}", headers=ANONYMOUS)
    assert public.status_code == 200 and set(public.json()) == PUBLIC_FIELDS, public.text
    as_shopper = await api.catalog.get(f"/sellers/{seller['id']}", headers=api.as_shopper(api.shopper()))
    assert set(as_shopper.json()) == PUBLIC_FIELDS
    other = await api.seller("Alor")
    assert set((await api.catalog.get(f"/sellers/{seller['id']}", headers=api.as_seller(other))).json()) == PUBLIC_FIELDS

    for caller in (api.as_seller(seller), {}):  # the owner; the harness's default operator (admin) token
        full = await api.catalog.get(f"/sellers/{seller['id']}", headers=caller)
        assert full.status_code == 200 and set(full.json()) >= PRIVATE, full.text
        assert full.json()["nik"].endswith("0001") and full.json()["nik"].startswith("*")

    bad_token = await api.catalog.get(f"/sellers/{seller['id']}", headers={"Authorization": "Bearer not-a-token"})
    assert bad_token.status_code == 401  # a token that is sent must be valid: no silent fall-back to anonymous


async def test_pending_sellers_and_hidden_products_photos_are_invisible_to_the_public(api: Api) -> None:
    pending = await api.pending_seller("Sumba Barat")
    product = await api.listing(pending, name=f"Kain Sumba {uuid.uuid4().hex[:6]}", category="tenun", price=300_000, stock=2)
    photo = PNG_HEADER + b"\0" * 100
    uploaded = await api.catalog.post(
        f"/products/{product['id']}/photos", headers=api.as_seller(pending), files={"photo": ("kain.png", photo, "image/png")}
    )
    assert uploaded.status_code == 201, uploaded.text
    photo_url = uploaded.json()["photos"][0]["url"]

    assert (await api.catalog.get(f"/sellers/{pending['id']}", headers=ANONYMOUS)).status_code == 404
    assert (await api.catalog.get(f"/sellers/{pending['id']}", headers=api.as_shopper(api.shopper()))).status_code == 404
    assert (await api.catalog.get(f"/sellers/{pending['id']}", headers=api.as_seller(pending))).json()["status"] == "pending"
    assert (await api.catalog.get(f"/sellers/{pending['id']}")).status_code == 200  # the operator reviewing it

    hidden = await api.catalog.get(photo_url, headers=ANONYMOUS)
    assert hidden.status_code == 404 and set(hidden.json()) == {"message"}
    own = await api.catalog.get(photo_url, headers=api.as_seller(pending))
    assert own.status_code == 200 and own.content == photo and own.headers["cache-control"] == "private, no-store"

    await api.verify_seller(pending["id"])
    shown = await api.catalog.get(photo_url, headers=ANONYMOUS)
    assert shown.status_code == 200 and shown.headers["cache-control"].startswith("public")
    # Deactivated again: hidden from the public at once.
    assert (
        await api.catalog.patch(f"/products/{product['id']}", headers=api.as_seller(pending), json={"active": False})
    ).status_code == 200
    assert (await api.catalog.get(photo_url, headers=ANONYMOUS)).status_code == 404
