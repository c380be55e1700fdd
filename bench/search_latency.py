"""Catalog search latency on 10,000 products.

    uv run --frozen python bench/search_latency.py [--products 10000] [--queries 200]

Starts (or reuses) the test profile's database via infra/stack.py (BELI_TEST_SLOT picks the
slot; MONGODB_URL points it at another server, e.g. real MongoDB), seeds a fresh database with
products built by the catalog's own code (same documents and search terms as the API writes),
then runs a mix of realistic shopper searches through the catalog's search functions (the work
the GET /products endpoint does: one page query plus, on first pages, the facet aggregation)
and prints p50/p99 per kind and overall. The database is dropped at the end.
"""

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beli_runtime.clock import utcnow
from beli_runtime.mongo import connect
from catalog import cursor, text
from catalog.domain import CATEGORIES, REGENCIES
from catalog.search import Filters, facets, search
from catalog.store import CatalogStore, refresh_derived
from infra import stack
from infra.profiles import TEST

WORDS = {
    "tenun": ["kain", "tenun", "ikat", "selendang", "sarung", "motif", "kuda", "buaya", "pewarna", "alami", "hinggi", "songket"],
    "kopi": ["kopi", "arabika", "robusta", "bajawa", "manggarai", "colol", "sangrai", "bubuk", "biji"],
    "madu": ["madu", "hutan", "timor", "mutis", "murni", "lebah"],
    "garam": ["garam", "beryodium", "bolok", "kristal"],
    "pangan": ["jagung", "bose", "keripik", "kue", "rumput", "laut", "instan"],
    "daging_olahan": ["sei", "sapi", "babi", "asap", "dendeng"],
    "kelor": ["kelor", "teh", "daun", "bubuk", "moringa"],
    "mete": ["mete", "jambu", "goreng", "flores", "panggang"],
    "minyak_kelapa": ["minyak", "kelapa", "murni", "vco"],
    "kerajinan": ["anyaman", "lontar", "tas", "topi", "moko", "ukiran"],
    "lainnya": ["sabun", "lilin", "aroma"],
}
FILLER = [
    "produk",
    "asli",
    "umkm",
    "ntt",
    "kualitas",
    "terbaik",
    "dikirim",
    "dari",
    "desa",
    "dibuat",
    "tangan",
    "oleh",
    "pengrajin",
    "lokal",
]


def product(i: int, rng: random.Random, sellers: list[dict[str, Any]]) -> dict[str, Any]:
    category = rng.choice(list(CATEGORIES))
    seller = rng.choice(sellers)
    words = WORDS[category]
    name = " ".join(rng.sample(words, k=min(3, len(words)))).capitalize() + f" {rng.choice([250, 500, 1000])} g"
    description = " ".join(rng.choices(words + FILLER, k=rng.randint(15, 60)))
    doc = {
        "_id": f"prd-bench{i:06d}",
        "seller_id": seller["_id"],
        "seller": seller["contact"],
        "seller_status": "verified",
        "regency": seller["regency"],
        "name": name,
        "description": description,
        "category": category,
        "price": rng.randint(1, 400) * 5_000,
        "stock": rng.choice([0, 0, 1, 5, 20, 100]),
        "reserved": 0,
        "sold": 0,
        "weight_grams": 250,
        "ovop_village": "Desa Jenilu" if rng.random() < 0.1 else None,
        "active": rng.random() > 0.03,
        "low_stock_threshold": None,
        "low_stock_alerted": False,
        "photos": [],
        "variants": [],
        "created_at": utcnow() - timedelta(minutes=10_000 - i),
        "updated_at": utcnow(),
    }
    doc["ovop"] = bool(doc["ovop_village"])
    refresh_derived(doc)
    return doc


def queries(rng: random.Random) -> list[tuple[str, Filters, str]]:
    """(kind, filters, sort) in roughly the proportions shoppers search."""
    mix: list[tuple[str, Filters, str]] = []
    for _ in range(12):
        category = rng.choice(list(WORDS))
        word = rng.choice(WORDS[category])
        mix.append(("one word", Filters(terms=text.query_terms(word)), "relevance"))
        mix.append(("two words", Filters(terms=text.query_terms(" ".join(rng.sample(WORDS[category], 2)))), "relevance"))
        mix.append(("type-ahead", Filters(terms=text.query_terms(word[:3])), "relevance"))
        mix.append(("word + regency", Filters(terms=text.query_terms(word), regency=rng.choice(REGENCIES)), "relevance"))
    for _ in range(4):
        mix.append(("regency + category", Filters(regency=rng.choice(REGENCIES), category=rng.choice(list(CATEGORIES))), "newest"))
        mix.append(
            ("category + price, cheapest", Filters(category=rng.choice(list(CATEGORIES)), min_price=50_000, max_price=300_000), "price_asc")
        )
        mix.append(("in stock + ovop", Filters(in_stock=True, ovop=True), "newest"))
        mix.append(("browse newest", Filters(), "newest"))
    return mix


async def run(n_products: int, n_queries: int) -> None:
    endpoints = stack.ensure_infra(TEST)
    client = connect(endpoints.mongodb_url)
    db_name = f"beli_bench_{uuid.uuid4().hex[:8]}"
    store = CatalogStore(client[db_name])
    rng = random.Random(7)
    try:
        await store.ensure_indexes()
        sellers = []
        for i in range(300):
            regency = REGENCIES[i % len(REGENCIES)]
            sid = f"slr-bench{i:04d}"
            sellers.append(
                {
                    "_id": sid,
                    "regency": regency,
                    "contact": {
                        "seller_id": sid,
                        "name": f"UMKM {i}",
                        "email": f"umkm{i}@bench.example.id",
                        "phone": "081200000000",
                        "regency": regency,
                    },
                }
            )
        started = time.perf_counter()
        for start in range(0, n_products, 500):
            await store.products.insert_many([product(i, rng, sellers) for i in range(start, min(start + 500, n_products))])
        print(f"seeded {n_products} products into {db_name} in {time.perf_counter() - started:.1f} s ({endpoints.mongodb_url})")

        mix = queries(rng)
        timings: dict[str, list[float]] = {}
        for i in range(n_queries):
            kind, filters, sort = mix[i % len(mix)]
            t0 = time.perf_counter()
            rows = await search(store, filters, sort, 21, None)
            await facets(store, filters)
            if len(rows) > 20 and i % 4 == 0:  # every fourth shopper also opens page 2
                after = cursor.decode(cursor.encode(sort, rows[19]), sort)
                await search(store, filters, sort, 21, after)
                kind += " (+page 2)"
            timings.setdefault(kind.split(" (")[0], []).append((time.perf_counter() - t0) * 1000)
        everything = sorted(ms for values in timings.values() for ms in values)
        print(f"{'kind':<30}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}")
        for kind, values in sorted(timings.items()):
            print(f"{kind:<30}{len(values):>5}{statistics.median(values):>10.1f}{percentile(values, 99):>10.1f}")
        print(f"{'all':<30}{len(everything):>5}{statistics.median(everything):>10.1f}{percentile(everything, 99):>10.1f}")
    finally:
        await client.drop_database(db_name)
        await client.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.products, args.queries))
