"""Time from `POST /orders` to `PAID`, the simulator paying as soon as the link exists.

    uv run --frozen python bench/checkout_latency.py [--orders 50] [--profile test|dev]

`--profile test` (default) starts, or reuses, the whole system on the test profile's ports
(BELI_TEST_SLOT picks the slot); `--profile dev` measures a running `make dev` stack.
Prints p50/p90/p99/max of: POST → payment link, pay → PAID, POST → PAID.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import stack
from infra.apps import start_apps
from infra.profiles import DEV, TEST
from tests.support import Api, System


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def one_checkout(api: Api, product_id: str) -> tuple[float, float, float]:
    started = time.perf_counter()
    order_id = (await api.place([(product_id, 1)])).json()["id"]
    while (order := await api.order(order_id))["payment"] is None:
        await asyncio.sleep(0.01)
    linked = time.perf_counter()
    await api.pay(order_id)
    while (await api.order(order_id))["status"] != "PAID":
        await asyncio.sleep(0.01)
    paid = time.perf_counter()
    assert order["status"] == "AWAITING_PAYMENT"
    return linked - started, paid - linked, paid - started


async def main(orders: int, profile_name: str) -> None:
    profile = DEV if profile_name == "dev" else TEST
    endpoints = stack.ensure_infra(profile) if profile_name == "test" else stack.Endpoints(profile.kafka_bootstrap, profile.mongodb_url)
    if profile_name == "test":
        start_apps(profile, endpoints)
    async with Api.connect(System(profile=profile, endpoints=endpoints)) as api:
        seller = await api.seller("Ngada")
        product = await api.product(seller, price=85_000, stock=orders + 10, category="kopi", name="Kopi Bajawa (benchmark)")
        await one_checkout(api, product["id"])  # warm-up: connections, first consumer assignment
        samples = [await one_checkout(api, product["id"]) for _ in range(orders)]
    print(f"checkout latency over {orders} sequential orders (profile {profile.name}):")
    for index, name in enumerate(("POST /orders → payment link", "pay → PAID", "POST /orders → PAID")):
        values = [sample[index] * 1000 for sample in samples]
        print(
            f"  {name:<28} p50 {statistics.median(values):6.0f} ms   p90 {percentile(values, 0.9):6.0f} ms   "
            f"p99 {percentile(values, 0.99):6.0f} ms   max {max(values):6.0f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--profile", choices=["test", "dev"], default="test")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.orders, arguments.profile))
