"""Where a paid order's time goes, read from its trace (issue 11).

    uv run --frozen python bench/trace_breakdown.py [--orders 20] [--concurrency 1] [--fresh]

Starts the test profile's stack (BELI_TEST_SLOT picks the slot) with tracing on, exporting to an
OTLP receiver inside this script (tests/otlp.py: Jaeger in miniature), places and pays `--orders`
orders (`--concurrency` at a time; the simulator pays as soon as the link exists), then cuts each
order's trace into the saga's steps and prints, per step, the median and p90 in milliseconds and
when it starts after `POST /orders` (median):

- `outbox → Kafka`: a publish span, from the write of the event in the outbox to Kafka's ack;
- `Kafka → consumer`: from that ack to the consumer's span start (delivery and the poll);
- `process <event>`: the consumer's transaction (inbox, handler, outbox) under its span;
- `job picks up …`: from the write that created the work to the payments job starting it;
- the calls to Midtrans, and the database commands (count and time) per service and order.

The harness's own delay (it pays when it sees the link) is left out of the system time:
placed → awaiting payment (orders records the link) + notification received → PAID.
The apps are restarted without tracing at the end; the infrastructure is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import stack
from infra.apps import start_app
from infra.processes import managed_processes
from infra.profiles import TEST
from tests.otlp import Receiver, Span
from tests.support import Api, System

SERVICES = ("catalog", "orders", "payments", "notifications", "programme", "web", "midtrans", "messaging")
NEEDED = ("midtrans", "messaging", "catalog", "orders", "payments", "notifications")  # an order's path, no more


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="stop the profile's stack and start from empty data")
    return parser.parse_args()


def restart_apps(env: dict[str, str] | None, fresh: bool) -> System:
    if fresh:
        stack.stop_all(TEST)
    endpoints = stack.ensure_infra(TEST, timeout=300)  # a loaded machine starts Kafka slowly
    for process in managed_processes(TEST.pid_dir):
        if process.name in SERVICES:
            process.stop()
    # Generous start timeouts: the machine is shared and often loaded.
    processes = {name: start_app(TEST, endpoints, name, extra_env=env, timeout=300) for name in NEEDED}
    return System(profile=TEST, endpoints=endpoints, processes=processes)


async def one_order(api: Api, product_id: str) -> tuple[str, str]:
    """Place (starting the trace), pay when payable, wait for PAID; returns (order id, trace id)."""
    customer, trace_id = api.shopper(), secrets.token_hex(16)
    placed = await api.orders.post(
        "/orders",
        json={"customer": customer, "items": [{"product_id": product_id, "quantity": 1}]},
        headers={
            "Idempotency-Key": uuid.uuid4().hex,
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            **api.as_shopper(customer),
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await api.payable(order_id, timeout=120)
    await api.pay(order_id)
    await api.order_reaches(order_id, "PAID", timeout=120)
    return order_id, trace_id


def steps(trace: list[Span], everything: dict[str, Span]) -> tuple[list[tuple[str, float, float]], dict[str, float]]:
    """(step, start after POST /orders in ms, duration in ms) of one order's trace, and its totals."""
    by_id = {span.span_id: span for span in trace}
    (post,) = [s for s in trace if s.service == "orders" and s.kind == "SERVER" and s.parent_id not in by_id]
    found: list[tuple[str, float, float]] = []

    def add(label: str, start_ns: int, end_ns: int) -> None:
        found.append((label, (start_ns - post.start_ns) / 1e6, (end_ns - start_ns) / 1e6))

    add("orders: POST /orders", post.start_ns, post.end_ns)
    totals: dict[str, float] = defaultdict(float)
    for span in trace:
        parent = by_id.get(span.parent_id)
        event = span.attributes.get("beli.event.type", "")
        if span.kind == "PRODUCER":
            add(f"{span.service}: outbox → Kafka ack ({event})", span.start_ns, span.end_ns)
        elif span.kind == "CONSUMER" and parent is not None:
            add(f"{span.service}: Kafka → consumer ({event})", parent.end_ns, span.start_ns)
            add(f"{span.service}: {span.name}", span.start_ns, span.end_ns)
        elif span.name == "open payment link" and parent is not None:
            add("payments: job picks up the payment", parent.end_ns, span.start_ns)
            add("payments: open payment link (job)", span.start_ns, span.end_ns)
        elif span.name == "confirm payment":
            webhooks = [everything[span_id] for _, span_id in span.links if span_id in everything]
            if webhooks:
                add("payments: job picks up the notification", webhooks[0].end_ns, span.start_ns)
                add("payments: POST /midtrans/notification", webhooks[0].start_ns, webhooks[0].end_ns)
                totals["notified_ns"] = webhooks[0].start_ns
            add("payments: confirm payment (job)", span.start_ns, span.end_ns)
        elif span.kind == "CLIENT" and _url(span).startswith(TEST.service_url("midtrans")):
            add(
                f"payments: Midtrans {span.attributes.get('http.method', span.attributes.get('http.request.method', ''))} {_path(span)}",
                span.start_ns,
                span.end_ns,
            )
        if span.attributes.get("db.system") == "mongodb":
            totals[f"db commands {span.service}"] += 1
            totals[f"db ms {span.service}"] += span.milliseconds
            found.append((f"db {span.service}: {span.name}", -1.0, span.milliseconds))
    ends = {span.name: span.end_ns for span in trace if span.service == "orders" and span.kind == "CONSUMER"}
    totals["placed → awaiting payment ms"] = (ends["process payments.payment_link_created"] - post.start_ns) / 1e6
    if "notified_ns" in totals:
        totals["notification → PAID ms"] = (ends["process payments.payment_settled"] - totals.pop("notified_ns")) / 1e6
    return found, totals


def _url(span: Span) -> str:
    return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")


def _path(span: Span) -> str:
    path = "/" + _url(span).split("//", 1)[-1].split("/", 1)[-1]
    return "/v2/{order}/status" if path.endswith("/status") else path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] if ordered else 0.0


def report(per_order: list[tuple[list[tuple[str, float, float]], dict[str, float]]]) -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    offsets: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, list[float]] = defaultdict(list)
    for found, order_totals in per_order:
        for label, offset, duration in found:
            durations[label].append(duration)
            offsets[label].append(offset)
        for name, value in order_totals.items():
            totals[name].append(value)
    database = sorted((label for label in durations if label.startswith("db ")), key=lambda name: -sum(durations[name]))
    print(f"\n{len(per_order)} paid orders; database commands by total time: median ms, p90 ms, per order")
    for label in database[:15]:
        print(f"  {label:<62} {median(durations[label]):8.1f} {p90(durations[label]):8.1f}   {len(durations[label]) / len(per_order):.1f}")
    print(f"\n{len(per_order)} paid orders; per step (ms): median, p90, starts after POST /orders (median); n per order")
    for label in sorted((name for name in durations if not name.startswith("db ")), key=lambda name: median(offsets[name])):
        count = len(durations[label]) / len(per_order)
        print(f"  {label:<62} {median(durations[label]):8.1f} {p90(durations[label]):8.1f} {median(offsets[label]):9.1f}   {count:.1f}")
    print("per order (median, p90):")
    for name in sorted(totals):
        print(f"  {name:<40} {median(totals[name]):8.1f} {p90(totals[name]):8.1f}")


async def exported(receiver: Receiver, trace_ids: list[str], timeout: float = 60.0) -> None:
    """Until each trace holds its last step (orders recording PAID), or `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = {(span.trace_id, span.service, span.name) for span in receiver.all()}
        if all((trace_id, "orders", "process payments.payment_settled") in names for trace_id in trace_ids):
            return
        await asyncio.sleep(0.5)


async def run(options: argparse.Namespace) -> None:
    receiver = Receiver()
    system = await asyncio.to_thread(
        restart_apps, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}, options.fresh
    )
    try:
        async with Api.connect(system) as api:
            seller = await api.seller("Sikka")
            product = await api.product(seller, price=150_000, stock=options.orders + 10, category="tenun", name="Selendang tenun Sikka")
            gate = asyncio.Semaphore(options.concurrency)

            async def bounded() -> tuple[str, str]:
                async with gate:
                    return await one_order(api, product["id"])

            started = time.monotonic()
            done = await asyncio.gather(*(bounded() for _ in range(options.orders)))
            print(f"{options.orders} orders placed and PAID in {time.monotonic() - started:.1f} s ({options.concurrency} at a time)")
            await exported(receiver, [trace_id for _, trace_id in done])
        everything = {span.span_id: span for span in receiver.all()}
        report([steps(receiver.trace(trace_id), everything) for _, trace_id in done])
    finally:
        await asyncio.to_thread(restart_apps, None, False)
        receiver.close()


if __name__ == "__main__":
    asyncio.run(run(arguments()))
