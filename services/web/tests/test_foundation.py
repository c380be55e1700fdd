"""The web app's foundation: sessions, CSRF, login, sign-up, logout, error pages."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.support import System
from web.backend import Backend
from web.sessions import Session

from .browsing import PASSWORD, WebUser

pytestmark = pytest.mark.infra


async def test_home_is_server_rendered_in_indonesian(visitor: WebUser) -> None:
    response = await visitor.open("/")
    assert response.status_code == 200
    assert '<html lang="id">' in response.text and "Kategori" in response.text and "Ngada" in response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


async def test_sign_up_log_out_and_log_in_again(visitor: WebUser) -> None:
    account = await visitor.sign_up()
    assert account["name"] in (await visitor.open("/")).text or "Keluar" in (await visitor.open("/")).text
    response = await visitor.submit("/keluar")
    assert "Masuk" in response.text and "Anda sudah keluar" in response.text
    await visitor.open("/masuk")
    wrong = await visitor.submit("/masuk", {"email": account["email"], "password": "salah-sekali-ini"})
    assert wrong.status_code == 400 and "E-mail atau kata sandi salah" in wrong.text
    right = await visitor.submit("/masuk", {"email": account["email"], "password": account["password"], "next": "/?dari=masuk"})
    assert right.status_code == 200 and str(right.url).endswith("/?dari=masuk") and "Keluar" in right.text


async def test_sign_up_errors_are_shown_next_to_their_fields(visitor: WebUser) -> None:
    await visitor.open("/daftar")
    response = await visitor.submit(
        "/daftar", {"role": "shopper", "name": "Y", "email": "bukan-email", "phone": "12", "password": "pendek"}
    )
    assert response.status_code == 400
    assert 'id="e-email"' in response.text and 'aria-invalid="true"' in response.text
    assert 'value="bukan-email"' in response.text  # what was typed stays


async def test_a_form_posted_without_its_csrf_token_is_refused(visitor: WebUser) -> None:
    await visitor.sign_up()
    refused = await visitor.submit("/keluar", csrf=False)
    assert refused.status_code == 403 and "kedaluwarsa" in refused.text
    forged = await visitor.submit("/keluar", {"csrf_token": "tebakan"}, csrf=False)
    assert forged.status_code == 403
    assert "Keluar" in (await visitor.open("/")).text  # still signed in


async def test_the_next_parameter_never_leaves_the_site(visitor: WebUser) -> None:
    account = await visitor.sign_up()
    await visitor.submit("/keluar")
    await visitor.open("/masuk")
    response = await visitor.submit("/masuk", {"email": account["email"], "password": account["password"], "next": "//evil.example/x"})
    assert response.url.host == "127.0.0.1"


async def test_unknown_page_is_a_friendly_404(visitor: WebUser) -> None:
    response = await visitor.open("/tidak-ada-halaman-ini")
    assert response.status_code == 404 and "Tidak ditemukan" in response.text


async def test_two_requests_with_one_expired_token_refresh_once(system: System) -> None:
    """Refresh tokens are one-use (a reused one revokes the session): two tabs arriving together
    with an expired access token must not both spend it."""
    catalog = system.profile.service_url("catalog")
    account = {
        "role": "shopper",
        "name": "Maria Goreti",
        "email": f"tab-{uuid.uuid4().hex[:8]}@nttprov.example.id",
        "phone": "081355512345",
        "password": PASSWORD,
    }
    since = datetime.now(UTC)
    async with httpx.AsyncClient() as client:
        accepted = await client.post(f"{catalog}/auth/signup", json=account)
        assert accepted.status_code == 202, accepted.text
        reader = WebUser(catalog, system.profile.service_url("messaging"))
        code = await reader.code_sent(account["email"], since)
        await reader.close()
        signed_up = await client.post(f"{catalog}/auth/verify", json={"email": account["email"], "code": code})
    assert signed_up.status_code == 200, signed_up.text
    backend = Backend({name: system.profile.service_url(name) for name in ("catalog", "orders", "payments", "notifications")}, timeout=30)
    tabs = [Session(), Session()]
    for tab in tabs:
        tab.sign_in(signed_up.json())
        tab.access_expires_at = 0  # as if 15 minutes had passed
    try:
        carts = await asyncio.gather(*(backend.get(tab, "orders", "/cart") for tab in tabs))
        assert [cart["items"] for cart in carts] == [[], []]
        assert tabs[0].refresh_token == tabs[1].refresh_token != signed_up.json()["refresh_token"]
        tabs[0].access_expires_at = 0
        assert (await backend.get(tabs[0], "orders", "/cart"))["items"] == []  # the session still works
    finally:
        await backend.close()
