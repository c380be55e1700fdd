"""The web app's foundation: sessions, CSRF, login, sign-up, logout, error pages."""

from __future__ import annotations

import pytest

from .browsing import WebUser

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
