"""Payday rush (issue 11): concurrent shoppers place, pay and reach PAID for many orders, end to end.

    uv run --frozen python bench/throughput.py [--orders 2000] [--shoppers 64 | --rate 25] [--fresh] [--json PATH]
    make bench BENCH_ARGS="--orders 300 --fresh"

It starts, or reuses, the whole system on the test profile's ports (BELI_TEST_SLOT picks the slot;
--fresh stops the slot's stack and wipes its data first; a stack the bench started is stopped at
the end unless --keep). It creates verified sellers with products stocked for the run, then
`--shoppers` shoppers each place an order (POST /orders), pay it in the Midtrans simulator as
soon as payments has opened its Snap link, wait for PAID, and place the next, until `--orders`
orders are done. A quarter of the orders buy from two or three sellers. Progress goes to stderr.

That closed loop measures capacity: it always has `--shoppers` orders in the system, so by
Little's law an order's time from POST to PAID is about shoppers / rate (64 / 25 = 2.6 s) however
the system spends it. `--rate R` measures latency at a given rate instead (the open loop of a
real rush: shoppers arrive on their own, R a second on average, each buying one order, whether
or not the orders before theirs are done).

How each stage's time is measured (per order, all on this machine's clock):
  placed    the order's `created_at` (GET /orders/{id}); the client also times POST /orders itself
  reserved  the `time` of the catalog's catalog.stock_reserved event for the order (Kafka)
  priced    the AWAITING_PAYMENT entry of the order's `history` (orders has the catalog's prices)
  link      the `time` of payments' payments.payment_link_created event (the Snap link exists)
  paid      the PAID entry of the order's `history`
  settled   the latest `recorded_at` of the order's entries in the levy ledger (GET /finance/ledger)
The shoppers learn "link" and "PAID" from the same events (orders.order_paid), never by polling,
so the harness adds no database reads while it measures. End to end = PAID orders / (last PAID -
first POST). Each stage's orders/s is over its own span (first to last order through it).

Database operations per paid order: the MongoDB-protocol server's serverStatus opcounters (all six
buckets) before the first order and after the system has settled (every consumer group read its
topics to the end), minus the harness's own operations in that window, counted by PyMongo's
monitoring on the harness's one client (serverStatus, top, handshakes, heartbeats). `top` splits
them by database. CPU seconds per paid order: psutil user+system time of each process the stack
recorded in .run/<profile>/pids (with its children), over the same window. Idle: the same counters
over --idle-seconds with nothing to do, before the run. The floor: --floor-orders minimal orders
against the same server, as many at a time as there are shoppers, each six transactions of one
insert and one update by _id plus two finds on an indexed field (bench/throughput_measure.py);
the run's rate is printed as a share of the floor's.

At the end it reads orders, the ledger, stock and each seller's orders back through the APIs and
exits non-zero if they disagree: an order lost, not PAID, doubled, charged twice, or stock oversold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from throughput_check import problems, read_back, settled, stage_times
from throughput_measure import Probe, Snapshot, floor, idle
from throughput_report import figures, report, with_targets
from throughput_shop import Catalogue, Placed, Tracker, arrivals, build_catalogue, plan_orders, shopper, show_progress

from beli_runtime import heap
from infra import stack
from infra.apps import start_apps
from infra.processes import managed_processes
from infra.profiles import TEST, Profile
from tests.support import Api, System


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders to place, pay and see PAID (default 2000)")
    parser.add_argument("--shoppers", type=int, default=64, help="shoppers at a time (default 64)")
    parser.add_argument(
        "--rate",
        type=float,
        help="open loop: shoppers arrive at this many a second (Poisson), each buying one order, instead of --shoppers buying in turn",
    )
    parser.add_argument("--sellers", type=int, default=8, help="sellers (default 8)")
    parser.add_argument("--products", type=int, default=3, help="products per seller (default 3)")
    parser.add_argument("--floor-orders", type=int, default=300, help="minimal orders of the floor micro-benchmark (default 300)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="how long to measure the idle stack (default 10)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one order may take to reach each stage (default 900)")
    parser.add_argument(
        "--settle-timeout", type=float, default=600.0, help="how long the window waits for every consumer group to catch up (default 600)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--fresh", action="store_true", help="stop the slot's stack and wipe its data first")
    parser.add_argument("--keep", action="store_true", help="leave the stack running even if the bench started it")
    return parser.parse_args()


Window = tuple[Snapshot, Snapshot, dict[str, int]]
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", file=sys.stderr, flush=True)


def start_stack(profile: Profile, fresh: bool) -> tuple[stack.Endpoints, bool]:
    """The profile's stack, started if needed; also whether this call started it."""
    if fresh:
        stack.stop_all(profile)
        shutil.rmtree(profile.run_dir, ignore_errors=True)
    started = not managed_processes(profile.pid_dir)
    endpoints = stack.ensure_infra(profile)
    start_apps(profile, endpoints)
    return endpoints, started


async def shop(api: Api, catalogue: Catalogue, tracker: Tracker, probe: Probe, placed: list[Placed], options: argparse.Namespace) -> Window:
    """Run the shoppers; the window closes once every PAID order is settled in the ledger and its
    stock committed, and every consumer group has caught up."""
    queue: asyncio.Queue[Placed] = asyncio.Queue()
    for order in placed:
        queue.put_nowait(order)
    before = await probe.snapshot()
    progress = asyncio.create_task(show_progress(tracker, len(placed), STARTED))  # the same clock as say()
    try:
        if options.rate:
            await arrivals(api, catalogue, tracker, placed, options.rate, options.seed, options.timeout)
        else:
            await asyncio.gather(*(shopper(api, catalogue, tracker, queue, options.timeout) for _ in range(options.shoppers)))
        for order in placed:
            for mark in ("settled", "committed"):
                if order.order_id and order.problem is None:
                    order.problem = await tracker.wait(order.order_id, mark, options.timeout)
        behind = await settled(tracker.bootstrap, options.settle_timeout)
    finally:
        progress.cancel()
    print(file=sys.stderr)
    if behind:
        say(f"not settled after {options.settle_timeout:.0f} s, events still to read: {behind} (their work is not in the counts)")
    return before, await probe.snapshot(), behind


def buyers(options: argparse.Namespace) -> str:
    if options.rate:
        return f"by shoppers arriving at {options.rate:g} a second (Poisson), one order each"
    return f"by {options.shoppers} shoppers"


async def run(options: argparse.Namespace) -> int:
    profile = TEST
    load_at_start = round(os.getloadavg()[0], 1)  # the machine may be shared: say how busy it was
    say(f"starting or reusing the {profile.name} stack")
    endpoints, started = start_stack(profile, options.fresh)
    probe = Probe(profile, endpoints.mongodb_url)
    tracker = Tracker(endpoints.kafka_bootstrap)
    try:
        async with Api.connect(System(profile=profile, endpoints=endpoints)) as api:
            plan = plan_orders(options.orders, options.sellers, options.products, options.seed)
            say(f"setting up {options.sellers} sellers x {options.products} products on {profile.name}")
            catalogue = await build_catalogue(api, plan, options.sellers, options.products)
            await settled(endpoints.kafka_bootstrap, options.settle_timeout)
            # The harness times requests and events: a full pass of its own garbage collector (up
            # to 0.4 s) would count as the stack's time, in the floor and in the run alike.
            heap.settle()
            say(f"measuring the idle stack for {options.idle_seconds:.0f} s")
            idle_figures = await idle(probe, options.idle_seconds)
            say(f"the floor: {options.floor_orders} minimal orders")
            floor_figures = await floor(probe, options.floor_orders, options.shoppers)
            say(f"{options.orders} orders {buyers(options)}")
            placed = [Placed(lines) for lines in plan]
            await tracker.start()
            window = await shop(api, catalogue, tracker, probe, placed, options)
            say("reading orders, ledger and stock back")
            back = await read_back(api, catalogue, placed)
    finally:
        await tracker.stop()
        await probe.close()
        if started and not options.keep:
            stack.stop_all(profile)
    result = with_targets(figures(placed, stage_times(tracker, back), window, idle_figures, floor_figures), open_loop=bool(options.rate))
    result["load_average_1min"] = {"start": load_at_start, "end": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    multi = sum(1 for lines in plan if len({line[0] for line in lines}) > 1)
    setting = f"{options.orders} orders ({multi} from several sellers) {buyers(options)}, {options.sellers} sellers x {options.products} products, profile {profile.name}"
    print("\n".join(report(result, setting)))
    found = problems(catalogue, placed, back)
    result["setting"], result["problems"] = setting, found
    if options.json:
        options.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if found:
        print(f"stock, ledger and orders DO NOT agree ({len(found)} problems):", *found[:20], sep="\n  ")
        return 1
    print(f"  consistency: all {len(placed)} orders PAID once, ledger and stock agree")
    return 0


if __name__ == "__main__":
    # The shoppers share the machine with the stack: the C event loop leaves it more of the cores.
    sys.exit(uvloop.run(run(arguments())))
