"""Accounts against an attacker (issue 14 items 2-3, issue 13 items 8-9), on the real stack.

Addresses: the services trust X-Forwarded-For from 127.0.0.1 (uvicorn's default, as behind a
local reverse proxy), so each test plays the attacker and the real user from their own address.
"""

import asyncio
import uuid
from typing import Any

import httpx

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api, eventually

PASSWORD = "tenun-ikat-kopi-bajawa"
ANONYMOUS = {"Authorization": ""}


def address() -> str:
    """A fresh documentation-range address (RFC 5737) per caller."""
    tag = uuid.uuid4().int
    return f"203.0.{tag % 250 + 1}.{tag // 250 % 250 + 1}"


def from_address(ip: str) -> dict[str, str]:
    return {**ANONYMOUS, "X-Forwarded-For": ip}


async def login(api: Api, email: str, password: str, ip: str) -> httpx.Response:
    return await api.catalog.post("/auth/login", headers=from_address(ip), json={"email": email, "password": password})


async def new_shopper(api: Api) -> dict[str, Any]:
    email = f"shopper-{uuid.uuid4().hex[:8]}@example.id"
    tokens = await api.sign_up("shopper", "Maria Goreti", email, "081234567890", PASSWORD)
    return {"email": email, "tokens": tokens}


async def storm(api: Api, email: str, ip: str, attempts: int = 50) -> list[httpx.Response]:
    return await asyncio.gather(*(login(api, email, f"tebakan-salah-{n}", ip) for n in range(attempts)))


def assert_throttled(responses: list[httpx.Response]) -> None:
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5, statuses  # the free failures of one (account, address) pair
    assert statuses.count(429) >= 45, statuses
    for refused in (r for r in responses if r.status_code == 429):
        assert 1 <= int(refused.headers["Retry-After"]) <= 900, refused.headers
        assert "Terlalu banyak percobaan" in refused.json()["message"]


async def test_login_storm_gets_429_with_retry_after_and_the_real_user_still_signs_in(api: Api) -> None:
    shopper = await new_shopper(api)
    attacker, home = address(), address()

    assert_throttled(await storm(api, shopper["email"], attacker))
    # The right password from the attacker's address is not even checked while it is locked...
    assert (await login(api, shopper["email"], PASSWORD, attacker)).status_code == 429
    # ...but the real user, from their own address, signs in.
    real = await login(api, shopper["email"], PASSWORD, home)
    assert real.status_code == 200, real.text


async def test_login_storm_against_the_admin_is_throttled_too(api: Api) -> None:
    attacker = address()
    assert_throttled(await storm(api, DEV_ADMIN_EMAIL, attacker))
    assert (await login(api, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, attacker)).status_code == 429
    assert (await login(api, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, address())).status_code == 200


async def test_one_address_trying_many_accounts_is_throttled(api: Api) -> None:
    """Credential stuffing: a few guesses each at many accounts from one address."""
    stuffer = address()
    statuses = [(await login(api, f"korban-{n}-{uuid.uuid4().hex[:6]}@example.id", "password123", stuffer)).status_code for n in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses


async def test_a_reused_refresh_token_revokes_the_whole_session(api: Api) -> None:
    shopper = await new_shopper(api)
    first = shopper["tokens"]
    second = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]

    # Someone replays the first refresh token (stolen) after the leeway for parallel requests
    # (REFRESH_REUSE_LEEWAY_SECONDS, 2 s): refused, and the session is over for everyone.
    await asyncio.sleep(2.5)
    replay = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and "sudah pernah dipakai" in replay.json()["message"], replay.text
    after = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401, after.text
    me = await api.catalog.get("/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
    assert me.status_code == 401, me.text

    # The owner signs in again: a new session.
    assert (await login(api, shopper["email"], PASSWORD, address())).status_code == 200


async def test_one_client_refreshing_twice_at_once_keeps_its_session(api: Api) -> None:
    tokens = (await new_shopper(api))["tokens"]
    answers = await asyncio.gather(
        *(api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": tokens["refresh_token"]}) for _ in range(2))
    )
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    again = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": answers[1].json()["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_logout_revokes_the_session(api: Api) -> None:
    shopper = await new_shopper(api)
    tokens = (await login(api, shopper["email"], PASSWORD, address())).json()
    out = await api.catalog.post("/auth/logout", headers=ANONYMOUS, json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204, out.text
    again = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401, again.text
    me = await api.catalog.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401, me.text


async def test_weak_passwords_are_refused_with_a_clear_message(api: Api) -> None:
    email = f"lemah-{uuid.uuid4().hex[:8]}@example.id"
    for weak in ("aaaaaaaaaa", "1234567890", "password12", email, "qwertyuiop", "maria1990goreti"):
        response = await api.catalog.post(
            "/auth/signup",
            headers=ANONYMOUS,
            json={"role": "shopper", "name": "Maria Goreti", "email": email, "phone": "081234567890", "password": weak},
        )
        assert response.status_code == 422, (weak, response.text)
        body = response.json()
        assert body["message"].startswith("Kata sandi terlalu mudah ditebak"), (weak, body)
        assert body["errors"][0]["field"] == "password"


async def test_one_seller_profile_per_account_even_when_asked_at_once(api: Api) -> None:
    email = f"seller-{uuid.uuid4().hex[:8]}@umkm.example.id"
    tokens = await api.sign_up("seller", "Tenun Sabu", email, "081234567891", PASSWORD)
    profile = {"name": "Tenun Sabu Raijua", "regency": "Sabu Raijua", "village": "Desa Bodae", "email": email, "phone": "081234567891"}
    answers = await asyncio.gather(
        *(api.catalog.post("/sellers", json=profile, headers={"Authorization": f"Bearer {tokens['access_token']}"}) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in answers]


# --- identities: verified addresses only (issue 14 item 2, issue 13 item 8) -----------------


async def sign_up_only(api: Api, email: str, phone: str = "081234567890", password: str = PASSWORD) -> httpx.Response:
    name = "Pemilik Asli" if password == PASSWORD else "Maria Goreti"
    body = {"role": "shopper", "name": name, "email": email, "phone": phone, "password": password}
    return await api.catalog.post("/auth/signup", headers=ANONYMOUS, json=body)


async def test_sign_up_does_not_reveal_which_emails_exist(api: Api) -> None:
    taken = (await new_shopper(api))["email"]
    fresh = f"baru-{uuid.uuid4().hex[:8]}@example.id"
    answers = [await sign_up_only(api, email) for email in (fresh, taken, DEV_ADMIN_EMAIL)]
    assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1, [r.text for r in answers]
    # The owner of the taken address is told someone tried; no code goes there.
    mail = await eventually(
        lambda: api.messaging.get("/mail", params={"to": taken}),
        lambda r: any("mencoba mendaftar" in m["subject"] for m in r.json()),
        what="the note to the address's owner",
    )
    notice = next(m for m in mail.json() if "mencoba mendaftar" in m["subject"])
    assert "sudah memiliki akun" in notice["text"] and "Kode verifikasi" not in notice["text"], notice


async def test_an_unverified_sign_up_gets_no_tokens_and_a_stranger_cannot_squat_an_address(api: Api) -> None:
    email = f"pendaftar-{uuid.uuid4().hex[:8]}@example.id"
    assert (await sign_up_only(api, email, password="kata-sandi-penyerobot-alamat")).status_code == 202
    refused = await login(api, email, "kata-sandi-penyerobot-alamat", address())
    assert refused.status_code == 403 and refused.json()["verification_required"] is True, refused.text
    wrong = await api.catalog.post("/auth/verify", headers=ANONYMOUS, json={"email": email, "code": "000000"})
    assert wrong.status_code == 400 and "Kode verifikasi salah" in wrong.json()["message"], wrong.text

    # The address's real owner signs up later (the newest pending sign-up counts) and proves it
    # with the code in their mailbox (at most one code a minute: the first one is still valid).
    assert (await sign_up_only(api, email, "081234567892", PASSWORD)).status_code == 202
    code = await api.code_sent("/mail", {"to": email})
    verified = await api.catalog.post("/auth/verify", headers=ANONYMOUS, json={"email": email, "code": code})
    assert verified.status_code == 200, verified.text
    tokens = verified.json()
    assert tokens["account"]["email_verified"] is True and tokens["account"]["name"] == "Pemilik Asli"
    assert (await login(api, email, "kata-sandi-penyerobot-alamat", address())).status_code == 401
    assert (await login(api, email, PASSWORD, address())).status_code == 200


async def test_a_seller_contact_address_nobody_verified_gets_no_messages(api: Api) -> None:
    seller = await api.seller("Ende")
    product = await api.listing(seller, name="Kopi Ende sangrai", category="kopi", price=45_000, stock=20, low_stock_threshold=5)
    stranger = f"orang-lain-{uuid.uuid4().hex[:8]}@example.id"
    changed = await api.catalog.patch(f"/sellers/{seller['id']}", json={"email": stranger}, headers=api.as_seller(seller))
    assert changed.status_code == 200, changed.text
    low = await api.catalog.put(f"/products/{product['id']}/stock", json={"stock": 2}, headers=api.as_seller(seller))
    assert low.status_code == 200, low.text

    # The stock-low notice was processed (its skipped delivery says why), and nothing reached the address.
    skipped = await eventually(
        lambda: api.notifications.get("/admin/notifications/deliveries", params={"recipient": stranger}),
        lambda r: r.status_code == 200 and len(r.json()) > 0,
        what="the stock-low notice to be processed",
    )
    assert [(d["kind"], d["status"]) for d in skipped.json()] == [("stock_low", "skipped")], skipped.json()
    assert "belum diverifikasi" in skipped.json()[0]["last_error"]
    assert await api.inbox(stranger) == []
    assert (await api.messaging.get("/mail", params={"to": stranger})).json() == []


async def test_receipts_go_to_the_accounts_address_even_if_the_body_names_another(api: Api) -> None:
    seller = await api.seller("Belu")
    product = await api.product(seller, price=35_000, stock=10, category="kelor", name="Teh kelor Belu")
    email = f"pembeli-{uuid.uuid4().hex[:8]}@example.id"
    tokens = await api.sign_up("shopper", "Yohana Bria", email, "081234567893", PASSWORD)
    victim = {"name": "Penerima Paket", "email": f"korban-{uuid.uuid4().hex[:8]}@example.id", "phone": "081299998888"}
    placed = await api.orders.post(
        "/orders",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Idempotency-Key": uuid.uuid4().hex},
        json={"customer": victim, "items": [{"product_id": product["id"], "quantity": 1}]},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await api.payable(order_id)
    await api.pay(order_id)
    order = await api.order_reaches(order_id, "PAID")
    assert order["customer"]["email"] == email and order["delivery_contact"] == {"name": "Penerima Paket", "phone": "081299998888"}

    await eventually(
        lambda: api.messaging.get("/mail", params={"to": email}),
        lambda r: any(m["subject"] == f"Pembayaran diterima - pesanan {order_id}" for m in r.json()),
        what="the receipt in the account's mailbox",
    )
    assert (await api.messaging.get("/mail", params={"to": victim["email"]})).json() == []
    sent_to_victim = await api.notifications.get("/admin/notifications/deliveries", params={"recipient": victim["email"]})
    assert sent_to_victim.json() == []
    assert (await api.messaging.get("/v1/messages", params={"to": "+6281299998888"})).json() == []
