"""A browser without JavaScript, for the server-side page tests: follows redirects, keeps the
session cookie, and reads each form's CSRF token from the page it was served on."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.codes import mail_query, newest_code
from infra.profiles import TEST

PASSWORD = "Tenun-ikat-Rote-2026!"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebUser:
    def __init__(self, base_url: str, mailbox_url: str | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30, follow_redirects=True)
        # The messaging simulator, where verification codes arrive (the test profile's by default).
        self.mailbox_url = mailbox_url or TEST.service_url("messaging")
        self.csrf = ""

    async def close(self) -> None:
        await self.http.aclose()

    async def open(self, path: str, **params: Any) -> httpx.Response:
        response = await self.http.get(path, params=params or None)
        self._remember_csrf(response)
        return response

    async def submit(self, path: str, fields: dict[str, Any] | None = None, *, csrf: bool = True) -> httpx.Response:
        data = dict(fields or {})
        if csrf:
            data["csrf_token"] = self.csrf
        response = await self.http.post(path, data=data)
        self._remember_csrf(response)
        return response

    def _remember_csrf(self, response: httpx.Response) -> None:
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)

    async def sign_up(self, role: str = "shopper", **fields: str) -> dict[str, str]:
        tag = uuid.uuid4().hex[:8]
        account = {
            "role": role,
            "name": f"Pembeli {tag}",
            "email": f"web-{tag}@nttprov.example.id",
            "phone": f"0815{int(tag, 16) % 10**8:08d}",
            "password": PASSWORD,
        } | fields
        since = datetime.now(UTC)
        await self.open("/daftar")
        response = await self.submit("/daftar", account)
        assert response.status_code == 200 and "Verifikasi e-mail" in response.text, response.text[:2000]
        code = await self.code_sent(account["email"], since)
        response = await self.submit("/verifikasi", {"email": account["email"], "code": code})
        assert response.status_code == 200, response.text[:2000]
        assert "Keluar" in response.text, response.text[:3000]
        return account

    async def code_sent(self, email: str, since: datetime, timeout: float = 30.0) -> str:
        """The code the person reads in their mailbox (the messaging simulator's)."""
        path, params = mail_query(email)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.mailbox_url, timeout=30) as mailbox:
            while time.monotonic() < deadline:
                code = newest_code((await mailbox.get(path, params=params)).raise_for_status().json(), since)
                if code:
                    return code
                await asyncio.sleep(0.2)
        raise AssertionError(f"no verification code for {email} within {timeout} s")
