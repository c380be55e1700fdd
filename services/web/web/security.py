"""CSRF protection for every form, and who may open which page."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from web.sessions import Session, current_session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token (answered 403)."""


class Forbidden(Exception):
    """Signed in, but this page is for another role (answered 403)."""


class LoginRedirect(Exception):
    """Not signed in: go to the login page and come back to `next_path` afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def csrf_protect(request: Request) -> None:
    """Installed on the whole app: every POST/PUT/PATCH/DELETE must carry the session's token,
    as the form field `csrf_token` (every form has it) or the `X-CSRF-Token` header."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the page reads the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = current_session(request).csrf
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def login_url(next_path: str) -> str:
    return f"/masuk?next={quote(next_path, safe='/')}"


def safe_next(value: str | None, default: str = "/") -> str:
    """Only paths on this site: `next=https://evil.example` or `//evil.example` are ignored."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def require_user(*roles: str) -> Callable[[Request], Coroutine[Any, Any, Session]]:
    """Dependency for pages that need a signed-in user (of one of `roles`, if given)."""

    async def check(request: Request) -> Session:
        session = current_session(request)
        if not session.signed_in:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRedirect(path if request.method == "GET" else "/")
        if roles and session.role not in roles:
            raise Forbidden()
        return session

    return check


shopper = require_user("shopper")
signed_in = require_user()
