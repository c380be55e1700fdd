"""The web app is operated like the services: /healthz, Prometheus /metrics counting requests,
and the Server-Timing header the page budget benchmark reads."""

import httpx

from web.main import app


async def test_metrics_count_pages_and_responses_carry_server_timing() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test") as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and "app;dur=" in health.headers["server-timing"]
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text
