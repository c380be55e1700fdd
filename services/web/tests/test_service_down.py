"""Error states: a service that does not answer gives a page that says so (502), never a traceback."""

from __future__ import annotations

import httpx

from web.backend import Backend
from web.main import app

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


async def test_pages_explain_that_a_service_is_unreachable() -> None:
    app.state.backend = Backend({name: CLOSED for name in ("catalog", "orders", "payments", "notifications")}, timeout=2)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as client:
            for path in ("/", "/cari?q=kopi", "/produk/prd-123", "/toko/slr-123"):
                response = await client.get(path)
                assert response.status_code == 502, (path, response.status_code)
                assert "sedang tidak dapat dihubungi" in response.text and "Traceback" not in response.text
            login = await client.get("/masuk")
            assert login.status_code == 200  # pages that need no service still work
            token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
            refused = await client.post("/masuk", data={"csrf_token": token, "email": "a@b.id", "password": "x"})
            assert refused.status_code == 502 and "tidak dapat dihubungi" in refused.text
    finally:
        await app.state.backend.close()
