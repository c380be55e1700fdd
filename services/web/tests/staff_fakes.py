"""A stand-in for the services, for the staff pages' rendering tests: each test says what the
services answer (lists, empty lists, refusals, outages) and reads the page the web app renders.
The real services are exercised by the end-to-end and browser tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from web.backend import BackendError
from web.main import app, settings
from web.sessions import Session

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
Answer = Any  # a JSON value, a BackendError to raise, or a function (params, json) -> either


def account(role: str, seller_id: str | None = None) -> dict[str, Any]:
    return {
        "id": f"acc-{role}",
        "role": role,
        "name": f"Uji {role}",
        "email": f"{role}@uji.example.id",
        "phone": "081200000000",
        "seller_id": seller_id,
    }


class FakeBackend:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], Answer] = {}
        self.calls: list[dict[str, Any]] = []
        self.account: dict[str, Any] = account("shopper")

    def on(self, method: str, service: str, path: str, answer: Answer) -> None:
        self.routes[(method, service, path)] = answer

    def sent(self, method: str, service: str, path: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if (c["method"], c["service"], c["path"]) == (method, service, path)]

    async def call(self, session: Session | None, method: str, service: str, path: str, **options: Any) -> Any:
        self.calls.append({"method": method, "service": service, "path": path} | options)
        if (method, service, path) == ("POST", "catalog", "/auth/login"):
            return self._tokens()
        if (method, service, path) not in self.routes:
            raise BackendError(404, f"{path} tidak ditemukan")
        answer = self.routes[(method, service, path)]
        if isinstance(answer, Callable):  # type: ignore[arg-type]
            answer = answer(options.get("params") or {}, options.get("json"))
        if isinstance(answer, BackendError):
            raise answer
        return answer

    async def get(self, session: Session | None, service: str, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value not in (None, "")}
        return await self.call(session, "GET", service, path, params=clean)

    async def refresh(self, session: Session) -> None:
        session.sign_in(self._tokens())

    async def close(self) -> None:
        pass

    def _tokens(self) -> dict[str, Any]:
        return {"account": self.account, "access_token": "a" * 20, "refresh_token": "r" * 20, "expires_in": 900}


class Browser:
    def __init__(self, http: httpx.AsyncClient, services: FakeBackend) -> None:
        self.http = http
        self.services = services
        self.csrf = ""

    async def open(self, path: str) -> httpx.Response:
        response = await self.http.get(path)
        self._remember(response)
        return response

    async def submit(self, path: str, fields: dict[str, Any] | None = None, files: dict[str, Any] | None = None) -> httpx.Response:
        response = await self.http.post(path, data={"csrf_token": self.csrf, **(fields or {})}, files=files)
        self._remember(response)
        return response

    async def log_in(self, role: str, seller_id: str | None = None, **extra: Any) -> None:
        self.services.account = account(role, seller_id) | extra
        await self.open("/masuk")
        fields = {"csrf_token": self.csrf, "email": f"{role}@uji.example.id", "password": "rahasia-sekali"}
        response = await self.http.post("/masuk", data=fields, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]

    def _remember(self, response: httpx.Response) -> None:
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)


@asynccontextmanager
async def browsing() -> AsyncIterator[Browser]:
    services = FakeBackend()
    app.state.backend = services
    app.state.settings = settings
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test", follow_redirects=True) as http:
        yield Browser(http, services)
