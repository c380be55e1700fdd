"""The shoppers of bench/throughput.py: the catalogue they buy from, the orders they place, and the
watcher that tells them (from the services' own events on Kafka) when to pay and when an order is PAID.

Waiting on events rather than polling `GET /orders/{id}` keeps the harness off the database while it
measures: a shopper's polling would otherwise be a large share of the reads counted per order."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from beli_contracts import CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, decode, type_in_headers
from tests.support import Api

REGENCIES = ("Sumba Timur", "Ngada", "Kota Kupang", "Ende", "Sikka", "Manggarai", "Belu", "Alor", "Flores Timur", "Rote Ndao")
CATEGORIES = ("tenun", "kopi", "madu", "garam", "pangan")
# Event type -> the mark it sets on its order. A failure mark ends the shopper's wait at once.
MARKS = {
    "catalog.stock_reserved": "reserved",
    "payments.payment_link_created": "link",
    "orders.order_paid": "paid",
    "payments.levy_recorded": "settled",
    "catalog.reservation_committed": "committed",
}
FAILURES = {"catalog.stock_rejected", "orders.order_rejected", "orders.order_cancelled", "payments.payment_failed"}
Line = tuple[int, int, int]  # (seller index, product index within the seller, quantity)


@dataclass
class Catalogue:
    sellers: list[dict[str, Any]]
    products: list[list[dict[str, Any]]]  # per seller
    initial_stock: dict[str, int]  # product id -> units listed

    def items(self, lines: list[Line]) -> list[tuple[str, int]]:
        return [(self.products[seller][product]["id"], quantity) for seller, product, quantity in lines]


def plan_orders(count: int, sellers: int, products_per_seller: int, seed: int) -> list[list[Line]]:
    """Every fourth order buys from two sellers and every twelfth from three (one payment for the
    whole basket, one sub-order per seller); the rest from one. One or two products per seller."""
    chooser = random.Random(seed)
    plan: list[list[Line]] = []
    for index in range(count):
        width = 3 if index % 12 == 11 else 2 if index % 4 == 3 else 1
        lines: list[Line] = []
        for seller in chooser.sample(range(sellers), min(width, sellers)):
            for product in chooser.sample(range(products_per_seller), chooser.choice((1, 1, 2)) if products_per_seller > 1 else 1):
                lines.append((seller, product, chooser.choice((1, 1, 2))))
        plan.append(lines)
    return plan


async def build_catalogue(api: Api, plan: list[list[Line]], sellers: int, products_per_seller: int) -> Catalogue:
    """Verified sellers with products stocked for the plan plus a margin, so no order is refused."""
    demand: Counter[tuple[int, int]] = Counter()
    for lines in plan:
        for seller, product, quantity in lines:
            demand[(seller, product)] += quantity
    gate = asyncio.Semaphore(4)

    async def one_seller(index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with gate:
            seller = await api.seller(REGENCIES[index % len(REGENCIES)])
            products = [
                await api.product(
                    seller,
                    price=15_000 + 5_000 * ((index + product) % 7),
                    stock=demand[(index, product)] + 5,
                    category=CATEGORIES[(index + product) % len(CATEGORIES)],
                    name=f"Produk {index + 1}-{product + 1} (benchmark)",
                )
                for product in range(products_per_seller)
            ]
            return seller, products

    made = await asyncio.gather(*(one_seller(index) for index in range(sellers)))
    products = [listed for _, listed in made]
    initial = {product["id"]: product["stock"] for listed in products for product in listed}
    return Catalogue([seller for seller, _ in made], products, initial)


@dataclass
class Trace:
    marks: dict[str, float] = field(default_factory=dict)
    failure: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Tracker:
    """Reads the three event topics from their ends at start; keeps, per order, when each mark's
    event was written (the envelope's time, set by the service in the transaction that did it)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        topics = (CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS)
        self.consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        self.traces: dict[str, Trace] = defaultdict(Trace)
        self.counts: Counter[str] = Counter()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await assigned(self.consumer)
        await self.consumer.seek_to_end()
        for partition in self.consumer.assignment():  # resolve the positions now: events from here on are ours
            await self.consumer.position(partition)
        self.task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if _watched(record.headers):
                        self._record(record.value)

    def _record(self, value: bytes) -> None:
        try:
            envelope = decode(value)
        except ValueError:
            return
        order_id = envelope.data.get("order_id")
        if not isinstance(order_id, str) or (envelope.type not in MARKS and envelope.type not in FAILURES):
            return
        trace = self.traces[order_id]
        if envelope.type in FAILURES:
            trace.failure = trace.failure or envelope.type
        elif MARKS[envelope.type] not in trace.marks:
            trace.marks[MARKS[envelope.type]] = envelope.time.timestamp()
            self.counts[MARKS[envelope.type]] += 1
        trace.changed.set()

    async def wait(self, order_id: str, mark: str, timeout: float) -> str | None:
        """None once the order has `mark`; otherwise why not (a failure event, or the timeout)."""
        trace = self.traces[order_id]
        deadline = time.monotonic() + timeout
        while True:
            if mark in trace.marks:
                return None
            if trace.failure is not None:
                return trace.failure
            if (left := deadline - time.monotonic()) <= 0:
                return f"no {mark} within {timeout:.0f} s"
            try:
                await asyncio.wait_for(trace.changed.wait(), left)
            except TimeoutError:
                continue
            trace.changed.clear()


def _watched(headers: Any) -> bool:
    """Whether an event may be one the shoppers wait for, from the type its producer's outbox
    named in its headers: most events on these topics are not, and are passed over without being
    decoded (the harness shares the machine with the stack it measures). One without it may be."""
    event_type = type_in_headers(headers)
    return event_type is None or event_type in MARKS or event_type in FAILURES


async def assigned(consumer: AIOKafkaConsumer, timeout: float = 30.0) -> set[TopicPartition]:
    """Every partition of the consumer's topics (without a group it is given all of them as soon
    as it has their metadata)."""
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no partitions of {consumer.subscription()} after {timeout} s")
        await asyncio.sleep(0.05)
    return set(consumer.assignment())


@dataclass
class Placed:
    lines: list[Line]
    order_id: str | None = None
    started: float = 0.0  # wall clock, to compare with the services' timestamps
    post_seconds: float = 0.0
    problem: str | None = None


async def shopper(api: Api, catalogue: Catalogue, tracker: Tracker, queue: asyncio.Queue[Placed], timeout: float) -> None:
    """One shopper of the closed loop: buy an order, then the next, until none is left."""
    while not queue.empty():
        await buy(api, catalogue, tracker, queue.get_nowait(), timeout)


async def arrivals(api: Api, catalogue: Catalogue, tracker: Tracker, placed: list[Placed], rate: float, seed: int, timeout: float) -> None:
    """The open loop: shoppers arrive on their own, `rate` a second on average (a Poisson process,
    seeded), each buying one order, whether or not the orders before theirs are done."""
    gaps = random.Random(seed)
    loop = asyncio.get_running_loop()
    due = loop.time()
    buying: list[asyncio.Task[None]] = []
    for order in placed:
        await asyncio.sleep(max(0.0, due - loop.time()))
        buying.append(asyncio.create_task(buy(api, catalogue, tracker, order, timeout)))
        due += gaps.expovariate(rate)
    await asyncio.gather(*buying)


async def buy(api: Api, catalogue: Catalogue, tracker: Tracker, placed: Placed, timeout: float) -> None:
    """Place one order, pay it once its link exists, wait for PAID."""
    placed.started, clock = time.time(), time.perf_counter()
    response = await api.place(catalogue.items(placed.lines))
    placed.post_seconds = time.perf_counter() - clock
    if response.status_code != 201:
        placed.problem = f"POST /orders answered {response.status_code}: {response.text[:200]}"
        return
    tracker.counts["placed"] += 1
    placed.order_id = order_id = response.json()["id"]
    placed.problem = await tracker.wait(order_id, "link", timeout)
    if placed.problem is not None:
        return
    paid = await api.midtrans.post(f"/simulator/pay/{order_id}", json={"transaction_status": "settlement"})
    if paid.status_code != 200:
        placed.problem = f"the simulator refused to pay: {paid.status_code} {paid.text[:200]}"
        return
    placed.problem = await tracker.wait(order_id, "paid", timeout)


async def show_progress(tracker: Tracker, total: int, started: float, every: float = 2.0) -> None:
    """One line per stage count every few seconds (rewritten in place on a terminal)."""
    stages = ("placed", "reserved", "link", "paid", "settled")
    previous_paid, previous_time = 0, time.monotonic()
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        paid = tracker.counts["paid"]
        rate = (paid - previous_paid) / (now - previous_time)
        previous_paid, previous_time = paid, now
        line = "  ".join(f"{stage} {tracker.counts[stage]:>5}" for stage in stages)
        ending = "\r" if sys.stderr.isatty() else "\n"
        print(f"[{now - started:6.0f} s] {line} / {total}   {rate:5.1f} paid/s", end=ending, file=sys.stderr, flush=True)


def seconds(value: str | datetime) -> float:
    """A service's timestamp (ISO 8601 from JSON) as seconds since the epoch."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()  # the services keep UTC
