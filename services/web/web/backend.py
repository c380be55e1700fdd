"""The backend-for-frontend client: calls the services' public HTTP APIs as the signed-in user.

Every call carries the session's access token; an expired one is refreshed once (before the
call when it is about to expire, or after a 401) and the new tokens go back into the cookie.
Errors come back as `BackendError` with the service's message and the fields at fault, so a
form can show each message next to its input.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx

from beli_runtime.logs import get_logger
from web.sessions import Session

log = get_logger(__name__)


class BackendError(Exception):
    """A service refused or failed. `status` 0 means it could not be reached."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []

    def field_errors(self) -> dict[str, str]:
        """`{"email": "…"}`: the last part of each field path, for the form that sent it."""
        found: dict[str, str] = {}
        for problem in self.errors:
            name = str(problem.get("field", "")).split(".")[-1]
            found.setdefault(name, str(problem.get("message", "")))
        return found


class SignInRequired(Exception):
    """No session, or its refresh token no longer works: the user has to log in again."""


# Refresh tokens are one-use (accounts rotates them and revokes the whole session when one is
# presented twice). Two requests of one browser (two tabs) may arrive with the same expired
# token: the first refreshes, the others get the same answer from here for a minute instead of
# presenting the spent token again. Per process: run several web instances with sticky sessions.
REFRESH_MEMORY_SECONDS = 60.0


class Backend:
    def __init__(self, urls: dict[str, str], timeout: float) -> None:
        self.urls = urls
        self.http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        self._refreshed: dict[str, tuple[float, asyncio.Future[dict[str, Any] | None]]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        session: Session | None,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """Call `service` as the session's user (anonymously when `session` is None).
        Returns the decoded JSON body (or the httpx.Response when `raw`)."""
        if session is not None and session.signed_in and time.time() >= session.access_expires_at:
            await self.refresh(session)
        response = await self._send(session, method, service, path, params, json, files, data, headers)
        if response.status_code == 401 and session is not None and session.signed_in:
            await self.refresh(session)
            response = await self._send(session, method, service, path, params, json, files, data, headers)
        if response.status_code == 401 and session is not None:
            session.sign_out()
            raise SignInRequired()
        if response.status_code >= 400:
            raise _error_of(response)
        if raw:
            return response
        return response.json() if response.content else None

    async def get(self, session: Session | None, service: str, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value not in (None, "")}
        return await self.call(session, "GET", service, path, params=clean)

    async def refresh(self, session: Session) -> None:
        token = session.refresh_token or ""
        now = time.monotonic()
        for key, (at, _) in list(self._refreshed.items()):
            if now - at > REFRESH_MEMORY_SECONDS:
                del self._refreshed[key]
        key = hashlib.sha256(token.encode()).hexdigest()
        if key in self._refreshed:
            tokens = await asyncio.shield(self._refreshed[key][1])
        else:
            future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
            self._refreshed[key] = (now, future)
            try:
                tokens = await self._spend(token)
            except BaseException as error:
                del self._refreshed[key]  # not answered: a later request may try again
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
                raise
            future.set_result(tokens)
        if tokens is None:
            session.sign_out()
            raise SignInRequired()
        session.sign_in(tokens)

    async def _spend(self, refresh_token: str) -> dict[str, Any] | None:
        try:
            response = await self.http.post(f"{self.urls['catalog']}/auth/refresh", json={"refresh_token": refresh_token})
        except httpx.HTTPError as error:
            raise BackendError(0, "layanan akun tidak dapat dihubungi; coba lagi sebentar lagi") from error
        return response.json() if response.status_code == 200 else None

    async def sign_out(self, session: Session) -> None:
        """End the session at the accounts module too: its refresh tokens stop working."""
        if session.refresh_token:
            try:
                await self.http.post(f"{self.urls['catalog']}/auth/logout", json={"refresh_token": session.refresh_token})
            except httpx.HTTPError:
                log.warning("web.logout_not_sent")  # the cookie is dropped anyway; the token expires in days
        session.sign_out()

    async def _send(
        self,
        session: Session | None,
        method: str,
        service: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        files: Any,
        data: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        sent_headers = dict(headers or {})
        if session is not None and session.access_token:
            sent_headers["Authorization"] = f"Bearer {session.access_token}"
        try:
            return await self.http.request(
                method, f"{self.urls[service]}{path}", params=params, json=json, files=files, data=data, headers=sent_headers
            )
        except httpx.HTTPError as error:
            log.warning("web.backend_unreachable", service=service, path=path, error=type(error).__name__)
            raise BackendError(0, f"layanan {service} sedang tidak dapat dihubungi; coba lagi sebentar lagi") from error


def _error_of(response: httpx.Response) -> BackendError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    if response.status_code >= 500 or not message:
        message = message if response.status_code < 500 else "terjadi gangguan pada layanan; coba lagi sebentar lagi"
    return BackendError(
        response.status_code, message or f"permintaan ditolak ({response.status_code})", errors if isinstance(errors, list) else None
    )
