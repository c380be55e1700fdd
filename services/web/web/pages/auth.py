"""Login, sign-up and logout. Tokens come from the catalog's accounts module (/auth/*)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import BackendError
from web.deps import backend
from web.render import page
from web.security import safe_next
from web.sessions import current_session

router = APIRouter()

# Where each role lands after logging in (when the login page was not opened with ?next=).
ROLE_HOME = {
    "shopper": "/",
    "seller": "/penjual",
    "finance": "/keuangan",
    "admin": "/operator",
    "programme": "/program",
    "opd": "/program/opd",
    "outlet": "/ntt-mart/paket",
}


@router.get("/masuk")
async def login_form(request: Request, next: str | None = None) -> Response:
    if current_session(request).signed_in:
        return RedirectResponse(safe_next(next, ROLE_HOME.get(current_session(request).role or "", "/")), status_code=303)
    return page(request, "auth/login.html", title="Masuk", next=safe_next(next, ""), values={}, errors={})


@router.post("/masuk")
async def login(
    request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    session = current_session(request)
    try:
        tokens = await backend(request).call(
            None, "POST", "catalog", "/auth/login", json={"email": email.strip(), "password": password}, headers=forwarded(request)
        )
    except BackendError as error:
        if error.status == 403:  # the e-mail is not verified yet: a new code was sent
            session.flash(error.message, "info")
            return RedirectResponse(f"/verifikasi?{urlencode({'email': email.strip(), 'next': safe_next(next, '')})}", status_code=303)
        message = "E-mail atau kata sandi salah." if error.status in (401, 422) else error.message
        return _form_again(request, "auth/login.html", "Masuk", error, next, {"email": email}, message)
    session.sign_in(tokens)
    session.flash(f"Selamat datang, {tokens['account']['name']}.", "success")
    return RedirectResponse(safe_next(next, ROLE_HOME.get(tokens["account"]["role"], "/")), status_code=303)


@router.get("/daftar")
async def signup_form(request: Request, next: str | None = None, peran: str = "shopper") -> Response:
    role = "seller" if peran == "seller" else "shopper"
    return page(request, "auth/signup.html", title="Daftar", next=safe_next(next, ""), values={"role": role}, errors={})


@router.post("/daftar")
async def signup(
    request: Request,
    role: Annotated[str, Form()] = "shopper",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    values = {"role": role if role in ("shopper", "seller") else "shopper", "name": name, "email": email, "phone": phone}
    body = values | {"password": password}
    try:
        accepted = await backend(request).call(None, "POST", "catalog", "/auth/signup", json=body)
    except BackendError as error:
        return _form_again(request, "auth/signup.html", "Daftar", error, next, values)
    # The account is active once the code sent to the e-mail is entered.
    current_session(request).flash(accepted["message"], "info")
    return RedirectResponse(f"/verifikasi?{urlencode({'email': values['email'], 'next': safe_next(next, '')})}", status_code=303)


@router.get("/verifikasi")
async def verify_form(request: Request, email: str = "", next: str | None = None) -> Response:
    return page(request, "auth/verify.html", title="Verifikasi e-mail", next=safe_next(next, ""), values={"email": email}, errors={})


@router.post("/verifikasi")
async def verify(
    request: Request,
    email: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    phone_code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    body = {"email": email.strip(), "code": code.strip()} | ({"phone_code": phone_code.strip()} if phone_code.strip() else {})
    try:
        tokens = await backend(request).call(None, "POST", "catalog", "/auth/verify", json=body, headers=forwarded(request))
    except BackendError as error:
        return _form_again(request, "auth/verify.html", "Verifikasi e-mail", error, next, {"email": email})
    session = current_session(request)
    session.sign_in(tokens)
    session.flash("Akun Anda sudah aktif. Selamat berbelanja produk NTT!", "success")
    return RedirectResponse(safe_next(next, ROLE_HOME.get(tokens["account"]["role"], "/")), status_code=303)


@router.post("/verifikasi/kirim-ulang")
async def resend(request: Request, email: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    try:
        accepted = await backend(request).call(None, "POST", "catalog", "/auth/verify/resend", json={"email": email.strip()})
        current_session(request).flash(accepted["message"], "info")
    except BackendError as error:
        current_session(request).flash(error.message, "error")
    return RedirectResponse(f"/verifikasi?{urlencode({'email': email.strip(), 'next': safe_next(next, '')})}", status_code=303)


def _form_again(
    request: Request, template: str, title: str, error: BackendError, next: str, values: dict[str, str], message: str | None = None
) -> Response:
    """The form once more with what was typed and what the service refused (502: it did not answer)."""
    errors = {} if message else error.field_errors()
    return page(
        request,
        template,
        400 if error.status else 502,
        title=title,
        next=safe_next(next, ""),
        values=values,
        errors=errors,
        error=message or (None if errors else error.message),
    )


def forwarded(request: Request) -> dict[str, str]:
    """The browser's address for the accounts service's login throttling: without it every
    visitor would share the web server's address and one attacker could lock everyone out."""
    return {"X-Forwarded-For": request.client.host} if request.client else {}


@router.post("/keluar")
async def logout(request: Request) -> Response:
    session = current_session(request)
    await backend(request).sign_out(session)
    session.flash("Anda sudah keluar.", "info")
    return RedirectResponse("/", status_code=303)
