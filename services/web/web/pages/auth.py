"""Login, sign-up and logout. Tokens come from the catalog's accounts module (/auth/*)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import BackendError
from web.deps import backend
from web.render import page
from web.security import safe_next
from web.sessions import current_session

router = APIRouter()

# Where each role lands after logging in (when the login page was not opened with ?next=).
ROLE_HOME = {"shopper": "/", "seller": "/penjual", "finance": "/keuangan", "admin": "/operator"}


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
        tokens = await backend(request).call(None, "POST", "catalog", "/auth/login", json={"email": email.strip(), "password": password})
    except BackendError as error:
        message = "E-mail atau kata sandi salah." if error.status in (401, 422) else error.message
        return page(
            request,
            "auth/login.html",
            400 if error.status else 502,
            title="Masuk",
            next=safe_next(next, ""),
            values={"email": email},
            errors={},
            error=message,
        )
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
        tokens = await backend(request).call(None, "POST", "catalog", "/auth/signup", json=body)
    except BackendError as error:
        errors = error.field_errors()
        return page(
            request,
            "auth/signup.html",
            400 if error.status else 502,
            title="Daftar",
            next=safe_next(next, ""),
            values=values,
            errors=errors,
            error=None if errors else error.message,
        )
    session = current_session(request)
    session.sign_in(tokens)
    session.flash("Akun Anda sudah dibuat. Selamat berbelanja produk NTT!", "success")
    return RedirectResponse(safe_next(next, ROLE_HOME.get(tokens["account"]["role"], "/")), status_code=303)


@router.post("/keluar")
async def logout(request: Request) -> Response:
    session = current_session(request)
    await backend(request).sign_out(session)
    session.flash("Anda sudah keluar.", "info")
    return RedirectResponse("/", status_code=303)
