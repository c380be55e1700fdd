"""What one written document costs the embedded database's CPU, by the indexes on its collection.

    uv run --frozen python bench/write_cost.py [--documents 1500]

Issue 11 found the database's CPU per paid order barely moving while its operations per order
fell by 40 %: a bulk write is one operation but does each document's work. This measures that
work. It starts a scratch SecantusDB daemon (ours, infra/secantus_daemon.py) on a free port with
an empty data directory, and reports the server process's CPU seconds (psutil) per document for:
- updates by `_id` of an order-like document, one command each and in bulk writes of 8, with 0, 3
  and 9 secondary indexes, and with 9 of which 6 are partial indexes the document does not match;
- the same updates when they change no indexed field (the index cost is paid all the same);
- a product's stock update (`$inc` by `_id`, as catalog's reservations do) with catalog's
  indexes, with and without the multikey search-terms index;
- an outbox row's life, inserted four at a time then, twenty at a time, marked published (as the
  relay did before 2026-12-06) or deleted (as it does now).
Nothing else runs against the scratch server; it is stopped at the end. Figures on a shared
machine move with its load: compare the rows of one run with each other.
"""

from __future__ import annotations

import argparse
import datetime
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "catalog")]

import psutil
from pymongo import MongoClient, UpdateOne
from pymongo.collection import Collection

from catalog.text import product_terms

ORDER_INDEXES: list[list[tuple[str, int]]] = [
    [("customer", 1), ("created_at", -1)],
    [("outlet_id", 1), ("created_at", -1)],
    [("status", 1), ("updated_at", 1)],
    [("seller_ids", 1), ("listing_key", -1)],
    [("seller_states", 1), ("listing_key", -1)],
    [("outlet_states", 1), ("listing_key", -1)],
    [("next_pickup_reminder_at", 1)],
    [("oldest_shipped_at", 1)],
    [("account", 1), ("created_at", -1)],
]
PRODUCT_INDEXES: list[list[tuple[str, int]]] = [
    [("seller_id", 1), ("created_at", -1)],
    [("visible", 1), ("category", 1), ("price", 1), ("_id", 1)],
    [("visible", 1), ("created_at", -1), ("_id", -1)],
    [("visible", 1), ("price", 1), ("_id", 1)],
    [("visible", 1), ("regency", 1), ("category", 1), ("created_at", -1), ("_id", -1)],
]
SEARCH_INDEX = [("visible", 1), ("search_terms", 1), ("created_at", -1), ("_id", -1)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ScratchServer:
    """A SecantusDB daemon of our own on an empty directory, and its CPU clock."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="write-cost-")
        port = free_port()
        daemon = ROOT / "infra" / "secantus_daemon.py"
        arguments = ["--host", "127.0.0.1", "--port", str(port), "--storage-path", self.directory]
        self.process = subprocess.Popen(
            [sys.executable, str(daemon), *arguments], cwd=self.directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.client: MongoClient[dict[str, Any]] = MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true")
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.admin.command("ping")
                break
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.3)
        self._cpu = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self._cpu.cpu_times()
        return float(times.user + times.system)

    def per_document(self, documents: int, work: Callable[[], None]) -> float:
        """Server CPU milliseconds per document of `work`."""
        before = self.cpu_seconds()
        work()
        return 1000 * (self.cpu_seconds() - before) / documents

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def order(number: int) -> dict[str, Any]:
    seller = f"seller-{number % 8}"
    return {
        "_id": number,
        "customer": f"shopper-{number % 64}",
        "account": f"account-{number % 64}",
        "created_at": number,
        "updated_at": 0,
        "listing_key": f"{number:08d}",
        "status": "PLACED",
        "seller_ids": [seller],
        "seller_states": [f"{seller}:PLACED"],
        "channel": "courier",
        "items": [{"product_id": f"product-{number % 24}", "name": "Kopi Arabika Bajawa 250 g", "quantity": 1, "price": 85_000}] * 2,
    }


def paid(number: int) -> dict[str, Any]:
    return {"status": "PAID", "updated_at": 2, "seller_states": [f"seller-{number % 8}:PAID"]}


def orders_with(
    server: ScratchServer, name: str, indexes: list[list[tuple[str, int]]], partial_from: int | None, documents: int
) -> Collection[Any]:
    collection = server.client["write_cost"][name]
    for position, keys in enumerate(indexes):
        partial = partial_from is not None and position >= partial_from
        collection.create_index(keys, **({"partialFilterExpression": {"channel": "pickup"}} if partial else {}))
    collection.insert_many([order(number) for number in range(documents)])
    return collection


def measure_orders(server: ScratchServer, documents: int) -> list[tuple[str, float, float, float]]:
    rows = []
    shapes: list[tuple[str, list[list[tuple[str, int]]], int | None]]
    shapes = [("0 secondary indexes", [], None), ("3 secondary indexes", ORDER_INDEXES[:3], None)]
    shapes += [("9 secondary indexes", ORDER_INDEXES, None), ("9, of which 6 partial and not matched", ORDER_INDEXES, 3)]
    for label, indexes, partial_from in shapes:
        collection = orders_with(server, label.replace(" ", "_").replace(",", ""), indexes, partial_from, documents)

        def one_by_one(collection: Collection[Any] = collection) -> None:
            for number in range(documents):
                change = {"status": "RESERVED", "updated_at": 1, "seller_states": [f"seller-{number % 8}:RESERVED"]}
                collection.update_one({"_id": number, "status": "PLACED"}, {"$set": change})

        def in_bulk(collection: Collection[Any] = collection) -> None:
            for start in range(0, documents, 8):
                numbers = range(start, min(documents, start + 8))
                collection.bulk_write([UpdateOne({"_id": n}, {"$set": paid(n)}) for n in numbers])

        def unindexed(collection: Collection[Any] = collection) -> None:
            for number in range(documents):
                collection.update_one({"_id": number}, {"$set": {"note": number}})

        rows.append(
            (
                label,
                server.per_document(documents, one_by_one),
                server.per_document(documents, in_bulk),
                server.per_document(documents, unindexed),
            )
        )
    return rows


def measure_products(server: ScratchServer, documents: int) -> list[tuple[str, float, int]]:
    name = "Kain tenun ikat Sumba motif kuda"
    description = "Kain tenun ikat asli Sumba Timur, ditenun tangan dengan pewarna alami. Ukuran 2 x 1 meter."
    name_terms, search_terms = product_terms(name, description, ["Sumba Timur", "tenun"])
    rows = []
    for label, indexes in (
        ("catalog's 6 secondary indexes", [*PRODUCT_INDEXES, SEARCH_INDEX]),
        ("without the search-terms index", PRODUCT_INDEXES),
    ):
        collection = server.client["write_cost"]["products_" + str(len(indexes))]
        for keys in indexes:
            collection.create_index(keys)
        product = {"visible": True, "category": "tenun", "price": 350_000, "regency": "Sumba Timur", "seller_id": "seller-1"}
        product |= {"name": name, "description": description, "name_terms": name_terms, "search_terms": search_terms}
        collection.insert_many([product | {"_id": f"product-{n}", "created_at": n, "stock": 10**6, "reserved": 0} for n in range(24)])

        def reserve(collection: Collection[Any] = collection) -> None:
            for number in range(documents):
                collection.update_one({"_id": f"product-{number % 24}", "stock": {"$gte": 1}}, {"$inc": {"stock": -1, "reserved": 1}})

        rows.append((label, server.per_document(documents, reserve), len(search_terms)))
    return rows


def measure_outbox(server: ScratchServer, documents: int) -> list[tuple[str, float, float]]:
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for label in ("marked published", "deleted"):
        collection = server.client["write_cost"]["outbox_" + label.split()[0]]
        collection.create_index([("published_at", 1), ("created_at", 1), ("_id", 1)])
        collection.create_index("published_at", name="published_ttl", expireAfterSeconds=7 * 24 * 3600)
        event = {
            "topic": "orders",
            "value": b"e" * 600,
            "headers": {"event_type": "orders.order_placed"},
            "created_at": now,
            "published_at": None,
        }
        events = [event | {"_id": number, "key": f"order-{number}"} for number in range(documents)]

        def insert(collection: Collection[Any] = collection, events: list[dict[str, Any]] = events) -> None:
            for start in range(0, documents, 4):
                collection.insert_many(events[start : start + 4])

        def relay(collection: Collection[Any] = collection, label: str = label) -> None:
            for start in range(0, documents, 20):
                sent = {"_id": {"$in": list(range(start, min(documents, start + 20)))}}
                if label == "deleted":
                    collection.delete_many(sent)
                else:
                    collection.update_many(sent, {"$set": {"published_at": now}})

        rows.append((label, server.per_document(documents, insert), server.per_document(documents, relay)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1500, help="documents written per measurement (default 1500)")
    options = parser.parse_args()
    server = ScratchServer()
    try:
        print(f"server CPU ms per document written ({options.documents} documents per figure)")
        print(f"{'order-like collection':40s} {'update':>8s} {'bulk of 8':>10s} {'no indexed field changed':>25s}")
        for label, single, bulk, unindexed in measure_orders(server, options.documents):
            print(f"{label:40s} {single:8.2f} {bulk:10.2f} {unindexed:25.2f}")
        print(f"{'product stock update ($inc by _id)':40s} {'update':>8s}")
        for label, single, terms in measure_products(server, options.documents):
            print(f"{label:40s} {single:8.2f}   ({terms} search terms per product)")
        print(f"{'outbox row, after it is sent':40s} {'insert':>8s} {'relay':>10s} {'both':>25s}")
        for label, inserted, relayed in measure_outbox(server, options.documents):
            print(f"{label:40s} {inserted:8.2f} {relayed:10.2f} {inserted + relayed:25.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
