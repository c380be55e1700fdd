"""Accounts against an attacker (issue 14 items 2-3, issue 13 items 8-9), on the real stack.

Addresses: the services trust X-Forwarded-For from 127.0.0.1 (uvicorn's default, as behind a
local reverse proxy), so each test plays the attacker and the real user from their own address.
"""

import asyncio
import uuid
from typing import Any

import httpx

from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from tests.support import Api

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

    # Someone replays the first refresh token (stolen): refused, and the session is over for all.
    replay = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and "sudah pernah dipakai" in replay.json()["message"], replay.text
    after = await api.catalog.post("/auth/refresh", headers=ANONYMOUS, json={"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401, after.text
    me = await api.catalog.get("/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
    assert me.status_code == 401, me.text

    # The owner signs in again: a new session.
    assert (await login(api, shopper["email"], PASSWORD, address())).status_code == 200


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
