"""Distributed tracing (issue 11): with OTEL_EXPORTER_OTLP_ENDPOINT set, one order placed and paid
is ONE trace across orders, catalog, payments (with its calls to Midtrans) and notifications.

Jaeger cannot run here, so the test plays it: a small OTLP/HTTP receiver decodes what the services
export (protobuf, as Jaeger receives it). The four services and the web app are restarted with the endpoint for
this module only and restarted without it afterwards: the rest of the suite runs with tracing off.
"""

import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from infra.apps import start_app
from tests.otlp import Receiver, Span
from tests.support import Api, System, eventually

TRACED = ("catalog", "orders", "payments", "notifications")
RESTARTED = (*TRACED, "web")  # web last: it calls the others
# Five restarts there and five back, on a shared 2-core machine: more than the suite's 300 s.
pytestmark = pytest.mark.timeout(900)


def _restart(system: System, env: dict[str, str] | None) -> None:
    """Restart the services side by side (each waits for its /healthz), then the web app."""
    for name in RESTARTED:
        system.processes[name].stop()
    with ThreadPoolExecutor(max_workers=len(TRACED)) as pool:
        started = dict(
            zip(TRACED, pool.map(lambda name: start_app(system.profile, system.endpoints, name, extra_env=env), TRACED), strict=True)
        )
    system.processes |= started
    system.processes["web"] = start_app(system.profile, system.endpoints, "web", extra_env=env)


@pytest.fixture(scope="module")
def receiver(system: System) -> Iterator[Receiver]:
    receiver = Receiver()
    # A short export delay so that spans arrive within a second of being ended.
    _restart(system, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "200"})
    try:
        yield receiver
    finally:
        _restart(system, None)
        receiver.close()


async def test_one_order_placed_and_paid_is_one_trace_across_every_service(api: Api, system: System, receiver: Receiver) -> None:
    seller = await api.seller("Manggarai")
    product = await api.product(seller, price=120_000, stock=4, category="kopi", name="Kopi Manggarai 250 g")
    customer = api.shopper()
    # The shopper's request starts the trace, as a gateway or the web app would.
    trace_id, root_span = secrets.token_hex(16), secrets.token_hex(8)
    placed = await api.orders.post(
        "/orders",
        json={"customer": customer, "items": [{"product_id": product["id"], "quantity": 1}]},
        headers={"Idempotency-Key": uuid.uuid4().hex, "traceparent": f"00-{trace_id}-{root_span}-01", **api.as_shopper(customer)},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await api.payable(order_id, timeout=60)
    await api.pay(order_id, "settlement")
    await api.order_reaches(order_id, "PAID", timeout=60)

    def consumed(spans: list[Span]) -> set[tuple[str, str]]:
        return {(s.service, s.name) for s in spans if s.kind == "CONSUMER"}

    saga = [
        ("catalog", "process orders.order_placed"),
        ("orders", "process catalog.stock_reserved"),
        ("payments", "process orders.payment_requested"),
        ("orders", "process payments.payment_link_created"),
        ("orders", "process payments.payment_settled"),
        ("catalog", "process orders.order_paid"),
    ]

    def complete(spans: list[Span]) -> bool:
        ids = {span.span_id for span in spans}
        expected = {*saga, ("notifications", "process orders.order_paid")} <= consumed(spans)
        return expected and all(span.parent_id in ids for span in spans if span.kind == "CONSUMER")

    # Marker: every stage's span, the last hop of the saga (notifications telling everyone it is
    # paid) and the publish span each consumer span names have been exported. Each service exports
    # its spans in its own batches, so a later hop's span can reach the receiver before an earlier
    # one's: waiting for the last hop alone is not enough. A parent never exported fails here.
    spans = await eventually(
        lambda: _async(receiver.trace(trace_id)),
        complete,
        timeout=60,
        what="the paid order's trace to reach every stage and notifications",
    )
    by_id = {span.span_id: span for span in spans}
    assert set(TRACED) <= {span.service for span in spans}

    # The first server span is the orders service answering the shopper's request.
    (placing,) = [s for s in spans if s.parent_id == root_span]
    assert (placing.service, placing.kind, placing.attributes.get("http.route")) == ("orders", "SERVER", "/orders")

    # Each stage of the saga is a consumer span, a child of the publish span of the event it read.
    stages = consumed(spans)
    for stage in saga:
        assert stage in stages, stages
    for span in (s for s in spans if s.kind == "CONSUMER"):
        producer = by_id.get(span.parent_id)
        assert producer is not None and producer.kind == "PRODUCER", f"{span.service} {span.name}: parent {producer}"
        assert producer.attributes["messaging.destination.name"] == span.attributes["messaging.destination.name"]

    # Payments' calls to Midtrans (open the Snap link, then confirm the notification) are in it.
    midtrans = system.profile.service_url("midtrans")
    calls = [s for s in spans if s.service == "payments" and s.kind == "CLIENT" and _url(s).startswith(midtrans)]
    assert any("/snap/v1/transactions" in _url(s) for s in calls), [_url(s) for s in calls]
    assert any(_url(s).endswith(f"/v2/{order_id}/status") for s in calls), [_url(s) for s in calls]

    # And the database work: every service's MongoDB commands hang under the order's spans.
    assert {s.service for s in spans if s.attributes.get("db.system") == "mongodb"} >= set(TRACED)
    print(f"\n[trace] {trace_id}: {len(spans)} spans, " + ", ".join(f"{n}={sum(s.service == n for s in spans)}" for n in TRACED))


async def test_a_page_of_the_web_app_and_the_service_calls_behind_it_are_one_trace(system: System, receiver: Receiver) -> None:
    trace_id = secrets.token_hex(16)
    async with httpx.AsyncClient(base_url=system.profile.service_url("web"), timeout=30) as web:
        page = await web.get("/", headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    assert page.status_code == 200, page.text[:300]

    def served(spans: list[Span]) -> set[str]:
        return {s.service for s in spans if s.kind == "SERVER"}

    spans = await eventually(
        lambda: _async(receiver.trace(trace_id)), lambda spans: {"web", "catalog"} <= served(spans), timeout=30, what="the page's trace"
    )
    by_id = {span.span_id: span for span in spans}
    # The catalog answered the web app's own call (httpx), inside the page's trace.
    for answer in (s for s in spans if s.service == "catalog" and s.kind == "SERVER"):
        call = by_id[answer.parent_id]
        assert (call.service, call.kind) == ("web", "CLIENT")


async def _async(value: Any) -> Any:
    return value


def _url(span: Span) -> str:
    return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")
