"""Every service's /docs works without internet: Swagger UI comes from a package, not a CDN."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from beli_runtime.http import create_app


@asynccontextmanager
async def nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


async def healthy() -> dict[str, Any]:
    return {"mongodb": "ok"}


def test_docs_page_and_its_assets_are_served_locally() -> None:
    app = create_app(title="uji", description="uji", lifespan=nothing, health=healthy, max_request_bytes=1024)
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "/docs-assets/swagger-ui-bundle.js" in page.text
        script = client.get("/docs-assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        assert client.get("/docs-assets/swagger-ui.css").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "uji"
