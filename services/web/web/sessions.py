"""Sessions in one encrypted cookie (HttpOnly, SameSite=Lax, Secure over HTTPS).

The cookie holds the signed-in account's tokens, a CSRF token and one-shot flash messages,
encrypted and authenticated with Fernet. The web app therefore keeps no session database and
any number of instances can serve a user. Logging out drops the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "beli_session"
SIGNED_IN_MAX_AGE = 7 * 24 * 3600  # as long as the refresh token lives


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    access_token: str | None = None
    refresh_token: str | None = None
    access_expires_at: float = 0.0
    account: dict[str, Any] | None = None
    flashes: list[dict[str, str]] = field(default_factory=list)
    changed: bool = False

    @property
    def signed_in(self) -> bool:
        return self.account is not None and self.refresh_token is not None

    @property
    def role(self) -> str | None:
        return self.account["role"] if self.account else None

    def sign_in(self, tokens: dict[str, Any]) -> None:
        """Store what /auth/login, /auth/signup or /auth/refresh answered; a new CSRF token at
        sign-in so that a token seen before (e.g. on a shared computer) is worthless."""
        if self.account is None or self.account.get("id") != tokens["account"]["id"]:
            self.csrf = secrets.token_urlsafe(24)
        self.account = tokens["account"]
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        # Refresh a little early: a token that expires in transit still fails.
        self.access_expires_at = time.time() + int(tokens.get("expires_in", 900)) - 30
        self.changed = True

    def sign_out(self) -> None:
        self.account = self.access_token = self.refresh_token = None
        self.access_expires_at = 0.0
        self.csrf = secrets.token_urlsafe(24)
        self.changed = True

    def flash(self, message: str, kind: str = "info") -> None:
        """A message shown once on the next page (kind: info, success, error)."""
        self.flashes.append({"message": message, "kind": kind})
        self.changed = True

    def pop_flashes(self) -> list[dict[str, str]]:
        shown, self.flashes = self.flashes, []
        if shown:
            self.changed = True
        return shown

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "csrf": self.csrf,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "access_expires_at": self.access_expires_at,
                "account": self.account,
                "flashes": self.flashes,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        data = json.loads(raw)
        return cls(
            csrf=data["csrf"],
            access_token=data.get("access_token"),
            refresh_token=data.get("refresh_token"),
            access_expires_at=float(data.get("access_expires_at") or 0),
            account=data.get("account"),
            flashes=list(data.get("flashes") or []),
        )


class SessionCodec:
    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def encode(self, session: Session) -> str:
        return self._fernet.encrypt(session.to_json()).decode()

    def decode(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            return Session.from_json(self._fernet.decrypt(value.encode(), ttl=SIGNED_IN_MAX_AGE))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None  # tampered, too old or from an older version: start afresh


def current_session(request: Request) -> Session:
    return request.state.session


class SessionMiddleware:
    """Loads the session before the page runs; writes the cookie back only if it changed."""

    def __init__(self, app: ASGIApp, codec: SessionCodec, force_secure: bool = False) -> None:
        self.app = app
        self.codec = codec
        self.force_secure = force_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        session = self.codec.decode(request.cookies.get(COOKIE))
        if session is None:
            session = Session(changed=True)
        scope.setdefault("state", {})["session"] = session
        secure = self.force_secure or _is_https(request)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.changed:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", self._cookie(session, secure).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, session: Session, secure: bool) -> str:
        parts = [f"{COOKIE}={self.codec.encode(session)}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if session.signed_in:
            parts.append(f"Max-Age={SIGNED_IN_MAX_AGE}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"
