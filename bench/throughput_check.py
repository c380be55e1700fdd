"""After the run: read back what the services say through their APIs (orders, the levy ledger,
stock, each seller's orders), check that they agree with what the shoppers did, and derive when
each order passed each stage."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from throughput_shop import Catalogue, Placed, Tracker, assigned, seconds

from tests.support import SUBSCRIPTIONS, Api

STAGES = ("placed", "reserved", "priced", "link", "paid", "settled")


@dataclass
class Readback:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    seller_orders: dict[str, list[str]] = field(default_factory=dict)


async def settled(bootstrap: str, timeout: float) -> dict[str, int]:
    """Wait until every consumer group has read its topics to the end, twice with the same ends (so
    the last round produced nothing new), for at most `timeout` seconds; the events each group still
    had to read when the time was up (empty when it settled). Kafka only: no database reads."""
    topics = sorted({topic for subscribed in SUBSCRIPTIONS.values() for topic in subscribed})
    reader = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        partitions = list(await assigned(reader))
        previous: dict[TopicPartition, int] | None = None
        deadline = time.monotonic() + timeout
        while True:
            ends = {tp: end for tp, end in (await reader.end_offsets(partitions)).items() if end > 0}
            if ends == previous:
                return {}
            behind = {
                group: await caught_up(admin, group, {tp: end for tp, end in ends.items() if tp.topic in subscribed}, deadline)
                for group, subscribed in SUBSCRIPTIONS.items()
            }
            if any(behind.values()):
                return {group: left for group, left in behind.items() if left}
            previous = ends
    finally:
        await reader.stop()
        await admin.close()


async def caught_up(admin: AIOKafkaAdminClient, group: str, ends: dict[TopicPartition, int], deadline: float) -> int:
    """Wait until `group` has committed at least `ends` on every partition named there, or the
    deadline passes; how many events it still had to read (0: caught up)."""
    while True:
        offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends)) if ends else {}
        left = sum(max(0, end - (offsets[tp].offset if offsets.get(tp) is not None else 0)) for tp, end in ends.items())
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


async def read_back(api: Api, catalogue: Catalogue, placed: list[Placed]) -> Readback:
    back = Readback()
    gate = asyncio.Semaphore(16)

    async def order(order_id: str) -> None:
        async with gate:
            back.orders[order_id] = await api.order(order_id)

    await asyncio.gather(*(order(p.order_id) for p in placed if p.order_id))
    for seller in catalogue.sellers:
        back.ledger += await pages(api, "payments", "/finance/ledger", {"seller_id": seller["id"], "limit": 1000}, "after")
        listed = await pages(api, "orders", f"/sellers/{seller['id']}/orders", {"limit": 100}, "cursor")
        back.seller_orders[seller["id"]] = [item["order_id"] for item in listed]
    for product_id in catalogue.initial_stock:
        back.products[product_id] = await api.stock_of(product_id)
    return back


async def pages(api: Api, service: str, path: str, params: dict[str, Any], cursor_name: str) -> list[dict[str, Any]]:
    client = getattr(api, service)
    items: list[dict[str, Any]] = []
    while True:
        response = await client.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        items += body["items"]
        if body.get("next_cursor") is None:
            return items
        params = {**params, cursor_name: body["next_cursor"]}


def problems(catalogue: Catalogue, placed: list[Placed], back: Readback) -> list[str]:
    """Why stock, ledger and orders do not agree (empty when they do): an order lost or not paid,
    listed twice, charged twice or not at all in the ledger, or stock sold that was not bought."""
    found = [f"order {p.order_id or '(not placed)'}: {p.problem}" for p in placed if p.problem]
    ids = [p.order_id for p in placed if p.order_id]
    found += [f"order id {oid} returned twice" for oid, n in Counter(ids).items() if n > 1]
    found += [f"order {oid} is {o['status']}, not PAID" for oid, o in back.orders.items() if o["status"] != "PAID"]
    found += ledger_problems(placed, back)
    found += stock_problems(catalogue, placed, back)
    for seller_index, seller in enumerate(catalogue.sellers):
        expected = {p.order_id for p in placed if p.order_id and any(line[0] == seller_index for line in p.lines)}
        listed = back.seller_orders[seller["id"]]
        if len(listed) != len(set(listed)) or set(listed) != expected:
            found.append(f"seller {seller['id']} lists {len(listed)} orders ({len(set(listed))} distinct), expected {len(expected)}")
    return found


def ledger_problems(placed: list[Placed], back: Readback) -> list[str]:
    entries: dict[str, list[dict[str, Any]]] = {}
    for entry in back.ledger:
        entries.setdefault(entry["order_id"], []).append(entry)
    found = [f"ledger has {len(e)} entries for order {oid}, not one of ours" for oid, e in entries.items() if oid not in back.orders]
    for order_id, order in back.orders.items():
        mine = entries.get(order_id, [])
        products = Counter((e["product_id"], e.get("variant_id")) for e in mine if e["kind"] == "levy")
        if any(count > 1 for count in products.values()) or any(e["kind"] != "levy" for e in mine):
            found.append(f"order {order_id}: ledger entries doubled or reversed: {sorted(products.items())}")
        if sum(e["gross"] for e in mine) != order["total"] or len(products) != len(order["items"]):
            found.append(
                f"order {order_id}: ledger gross {sum(e['gross'] for e in mine)} for {len(products)} lines, order total {order['total']}"
            )
    return found


def stock_problems(catalogue: Catalogue, placed: list[Placed], back: Readback) -> list[str]:
    bought: Counter[str] = Counter()
    for p in placed:
        if p.order_id and back.orders.get(p.order_id, {}).get("status") == "PAID":
            for product_id, quantity in catalogue.items(p.lines):
                bought[product_id] += quantity
    found = []
    for product_id, initial in catalogue.initial_stock.items():
        now = back.products[product_id]
        if now["sold"] != bought[product_id] or now["reserved"] != 0 or now["stock"] + now["reserved"] + now["sold"] != initial:
            found.append(
                f"product {product_id}: listed {initial}, bought {bought[product_id]}; "
                f"now stock {now['stock']}, reserved {now['reserved']}, sold {now['sold']}"
            )
    return found


def stage_times(tracker: Tracker, back: Readback) -> dict[str, dict[str, float]]:
    """Per order, when it reached each stage (seconds since the epoch): placed, priced and paid from
    the order's history; reserved and link from the catalog's and payments' events; settled from
    the ledger entries' recorded_at (the last line of the order)."""
    recorded: dict[str, float] = {}
    for entry in back.ledger:
        recorded[entry["order_id"]] = max(recorded.get(entry["order_id"], 0.0), seconds(entry["recorded_at"]))
    times: dict[str, dict[str, float]] = {}
    for order_id, order in back.orders.items():
        history = {change["status"]: seconds(change["at"]) for change in order["history"]}
        marks = tracker.traces[order_id].marks
        moments = {
            "placed": seconds(order["created_at"]),
            "reserved": marks.get("reserved"),
            "priced": history.get("AWAITING_PAYMENT"),
            "link": marks.get("link"),
            "paid": history.get("PAID"),
            "settled": recorded.get(order_id),
        }
        times[order_id] = {stage: moment for stage, moment in moments.items() if moment is not None}
    return times
