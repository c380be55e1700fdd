"""Machine instructions SecantusDB spends on one update of an order document, by the indexes of its
collection: a count that does not move with the machine's load (bench/write_cost.py's CPU seconds do).

    uv run --frozen python bench/write_instructions.py [--cached-metadata]      (needs valgrind; ~10 min)

Each shape runs in its own process under valgrind's callgrind: SecantusDB's storage in process (no
wire, no server), an orders collection with the shape's indexes and 600 order documents shaped as a
courier order after pricing (no `outlet_id`, `outlet_states: []`, no sweep field), then the saga's
update by `_id` and status (`$set` status, updated_at, seller_states; `$push` history) of the first
K documents. Run with K = 50 and K = 250, the difference divided by 200 is one update's instructions,
without the set-up's.

`--cached-metadata` measures what the same updates would cost if the storage read its indexes'
metadata once per collection instead of once per step of each write (measurement only: the cache is
never invalidated, which is wrong after an index is created or dropped or marked multikey).
`--daemon` measures the development server's storage instead: SecantusDB's with everything
infra/secantus_daemon.py installs (`install`: among them, the index catalog read once per statement,
only the index entries an update changes rewritten, valid update shapes and plain collections known
between statements: infra/secantus_known.py). `--shape N` runs one shape alone.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NOW = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)
Index = tuple[list[tuple[str, int]], dict[str, Any]]
EVERYONE: list[Index] = [
    ([("status", 1), ("updated_at", 1)], {}),
    ([("customer.account_id", 1), ("created_at", -1), ("_id", -1)], {}),
    ([("seller_ids", 1), ("listing_key", -1)], {}),
    ([("seller_states", 1), ("listing_key", -1)], {}),
]
SWEEPS: list[Index] = [([("oldest_shipped_at", 1)], {"sparse": True}), ([("next_pickup_reminder_at", 1)], {"sparse": True})]
OUTLET_KEYS: list[list[tuple[str, int]]] = [[("outlet_states", 1), ("listing_key", -1)], [("outlet_id", 1), ("created_at", -1)]]
OUTLETS: list[Index] = [(keys, {}) for keys in OUTLET_KEYS]
OUTLETS_PARTIAL: list[Index] = [(keys, {"partialFilterExpression": {keys[0][0]: {"$gt": ""}}}) for keys in OUTLET_KEYS]
SHAPES: list[tuple[str, list[Index]]] = [
    ("the 4 indexes every order is in", EVERYONE),
    ("+ 2 sweep indexes (sparse, field absent)", EVERYONE + SWEEPS),
    ("+ 2 outlet indexes (orders' 8 today)", EVERYONE + SWEEPS + OUTLETS),
    ("the 2 outlet indexes partial, not matched", EVERYONE + SWEEPS + OUTLETS_PARTIAL),
]
DOCUMENTS = 600


def order(number: int) -> dict[str, Any]:
    seller = f"seller-{number % 8}"
    line = {"product_id": f"product-{number % 24}", "unit_price": 85_000, "quantity": 1}
    return {
        "_id": f"BNTT-{number:016d}",
        "status": "AWAITING_PAYMENT",
        "customer": {"name": "Yohana", "email": "yohana@example.id", "phone": "081299990000", "account_id": f"acc-{number % 64}"},
        "items": [{"product_id": line["product_id"], "quantity": 1}] * 2,
        "lines": [line] * 2,
        "total": 170_000,
        "created_at": NOW + datetime.timedelta(seconds=number),
        "updated_at": NOW,
        "history": [{"status": "PENDING", "at": NOW}],
        "channel": "online",
        "seller_ids": [seller],
        "seller_states": [f"{seller}:AWAITING_PAYMENT"],
        "outlet_ids": [],
        "outlet_states": [],
        "listing_key": f"{number:08d}",
        "sub_orders": [{"seller_id": seller, "status": "AWAITING_PAYMENT", "gross": 170_000}],
    }


def cache_index_metadata() -> None:
    from secantus.storage import Storage  # type: ignore[import-untyped]

    read = Storage._iter_indexes
    cache: dict[tuple[str, str], list[Any]] = {}

    def cached(self: Storage, db: str, coll: str) -> Any:
        if (db, coll) not in cache:
            cache[db, coll] = list(read(self, db, coll))
        return iter(cache[db, coll])

    Storage._iter_indexes = cached


def as_the_daemon() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from infra import secantus_daemon

    secantus_daemon.install()


def child(shape: int, updates: int, cached: bool, daemon: bool) -> None:
    from secantus.storage import Storage

    if cached:
        cache_index_metadata()
    if daemon:
        as_the_daemon()
    storage = Storage(tempfile.mkdtemp(prefix="write-instructions-"), enable_oplog=False)
    for position, (keys, options) in enumerate(SHAPES[shape][1]):
        storage.create_index("bench", "orders", f"index_{position}", dict(keys), options)
    storage.insert("bench", "orders", [order(number) for number in range(DOCUMENTS)])
    for number in range(updates):
        seller = f"seller-{number % 8}"
        paid = {"status": "PAID", "updated_at": NOW, "seller_states": [f"{seller}:PAID"]}
        storage.update_matching(
            "bench",
            "orders",
            {"_id": f"BNTT-{number:016d}", "status": {"$in": ["AWAITING_PAYMENT"]}},
            {"$set": paid, "$push": {"history": {"status": "PAID", "at": NOW}}},
        )


def instructions(shape: int, updates: int, cached: bool, daemon: bool) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
    command += ["--child", str(shape), str(updates), *(["--cached-metadata"] if cached else []), *(["--daemon"] if daemon else [])]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    refs = next(line for line in report.splitlines() if "I   refs:" in line)
    return int(refs.split()[-1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cached-metadata", action="store_true", help="read the indexes' metadata once per collection")
    parser.add_argument("--daemon", action="store_true", help="the development server's storage (infra/secantus_daemon.py)")
    parser.add_argument("--shape", type=int, choices=range(len(SHAPES)), help="one shape alone (0 to 3)")
    parser.add_argument("--child", nargs=2, type=int, metavar=("SHAPE", "UPDATES"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        shape, updates = options.child
        child(shape, updates, options.cached_metadata, options.daemon)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed (apt-get install valgrind)")
    storage = " (metadata cached)" if options.cached_metadata else " (the development server's storage)" if options.daemon else ""
    print(f"millions of instructions per update of an order document{storage}")
    for shape, (label, _) in enumerate(SHAPES):
        if options.shape is not None and shape != options.shape:
            continue
        few, many = (instructions(shape, updates, options.cached_metadata, options.daemon) for updates in (50, 250))
        print(f"{label:45s} {(many - few) / 200 / 1e6:6.2f}", flush=True)


if __name__ == "__main__":
    main()
