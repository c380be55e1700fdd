"""Seed 100,000 hash-chained levy ledger entries and time the finance office's summaries.

    uv run --frozen python bench/levy_summary.py [--entries 100000]

Uses MONGODB_URL when set; otherwise starts (or reuses) the test profile's database
(BELI_TEST_SLOT picks the slot). Writes to its own database, `beli_levy_bench`, dropped first.
"""

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymongo import AsyncMongoClient

from payments.audit import LedgerFilter, LevyAudit
from payments.domain import levy_for
from payments.ledger import LevyLedger
from payments.levy import REGENCIES

DATABASE = "beli_levy_bench"
BATCH = 1_000
CATEGORIES = ("tenun", "kopi", "madu", "garam", "pangan", "kelor", "mete")


def mongodb_url() -> str:
    if os.environ.get("MONGODB_URL"):
        return os.environ["MONGODB_URL"]
    from infra import stack
    from infra.profiles import TEST

    stack.start_mongo(TEST)
    return TEST.mongodb_url


def drafts(start: int, count: int, rng: random.Random) -> list[dict]:
    regencies = sorted(REGENCIES)
    batch = []
    for n in range(start, start + count):
        price, quantity = rng.randrange(5_000, 900_000), rng.randrange(1, 6)
        gross = price * quantity
        levy = levy_for(gross, 100)
        batch.append(
            {
                "_id": f"BENCH-{n // 3}:prd-{n % 3}:levy",
                "kind": "levy",
                "order_id": f"BENCH-{n // 3}",
                "product_id": f"prd-{n % 3}",
                "product_name": "Produk UMKM",
                "seller_id": f"slr-{n % 500}",
                "seller_name": f"UMKM {n % 500}",
                "regency": regencies[n % len(regencies)],
                "category": CATEGORIES[n % len(CATEGORIES)],
                "quantity": quantity,
                "unit_price": price,
                "gross": gross,
                "levy": levy,
                "seller_payable": gross - levy,
                "rule_id": "default",
                "rule_version": 1,
                "rate_bps": 100,
                "reverses": None,
                "refund_id": None,
            }
        )
    return batch


async def main(entries: int) -> None:
    client = AsyncMongoClient(mongodb_url(), tz_aware=True)
    await client.drop_database(DATABASE)
    ledger = LevyLedger(client[DATABASE])
    await ledger.ensure_indexes()
    audit = LevyAudit(None, ledger, None)  # type: ignore[arg-type]  # summaries need neither runtime nor store
    rng = random.Random(7)
    started = time.perf_counter()
    base = datetime.now(UTC) - timedelta(days=60)
    for start in range(0, entries, BATCH):
        at = base + timedelta(hours=start // BATCH * 14)  # 100 batches spread over about two months
        async with client.start_session() as session:
            batch = drafts(start, min(BATCH, entries - start), rng)
            await session.with_transaction(lambda s, b=batch, t=at: ledger.append(s, b, t))
    print(f"seeded {entries:,} chained entries in {time.perf_counter() - started:.1f} s")

    expected = sum(e["levy"] for e in (await ledger.entries.find({}, {"levy": 1}).to_list()))
    for group_by in ("regency", "day", "month", "seller", "category"):
        started = time.perf_counter()
        summary = await audit.summary(group_by, LedgerFilter())
        elapsed = time.perf_counter() - started
        assert summary["totals"]["entries"] == entries and summary["totals"]["levy"] == expected
        print(f"summary by {group_by:<8} over {entries:,} entries: {elapsed * 1000:8.0f} ms  ({len(summary['rows'])} rows)")
    started = time.perf_counter()
    verdict = await ledger.verify()
    print(f"chain verification of {verdict['entries_checked']:,} entries: {time.perf_counter() - started:.1f} s, ok={verdict['ok']}")
    await client.drop_database(DATABASE)
    await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().entries))
