"""p95 of the programme's compliance and dashboard endpoints over 150,000 ASN and the read models
that 1,000,000 counted orders leave behind.

    uv run --frozen python bench/programme_queries.py [--asn 150000 --orders 1000000 --requests 200]

The answers come from read models (per ASN and month, per OPD and month, per government and
month, per month), so the number of orders only sets the values in them. To seed in minutes rather
than hours, the benchmark writes those read models directly - the state the event handlers reach
after 1,000,000 orders (spending drawn per order, summed per ASN) - into its own database
`beli_programme_queries` (dropped first), with ~700 OPDs (the province and 22 regencies x 30).
The per-order `sales` rows are not written: no measured endpoint reads them. Then it runs a
programme process on that database and times the endpoints over HTTP. Target: p95 <= 200 ms.
"""

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from programme_support import office
from pymongo import AsyncMongoClient

from beli_contracts.reference import REGENCIES
from infra import stack
from infra.apps import start_app
from infra.profiles import TEST
from programme.domain import GOVERNMENTS, PROVINCE, month_of
from programme.store import ProgrammeStore

DATABASE = "beli_programme_queries"
PORT = TEST.programme + 70
BATCH = 5_000


def opds() -> list[dict]:
    rows = [{"_id": f"prov-{n:02d}", "name": f"Perangkat Daerah Provinsi {n}", "government": PROVINCE} for n in range(40)]
    for regency in REGENCIES:
        slug = regency.lower().replace(" ", "-")
        rows += [{"_id": f"{slug}-{n:02d}", "name": f"Perangkat Daerah {regency} {n}", "government": regency} for n in range(30)]
    return rows


async def seed(db, asn: int, orders: int, month: str, rng: random.Random) -> None:
    units = opds()
    spent = [0] * asn
    for _ in range(orders):  # an order of Rp25.000-Rp250.000 by a random ASN
        spent[rng.randrange(asn)] += rng.randrange(25, 251) * 1_000
    opd_of = [units[rng.randrange(len(units))] for _ in range(asn)]
    await seed_units(db, units, opd_of, spent, month)
    await seed_month(db, month, spent, orders)
    await seed_asn(db, opd_of, spent, month)


async def seed_units(db, units: list[dict], opd_of: list[dict], spent: list[int], month: str) -> None:
    """The OPDs and governments with their ASN counts and the month's figures."""
    counts: dict[str, int] = {}
    by_opd: dict[str, list[int]] = {}
    for n, unit in enumerate(opd_of):
        counts[unit["_id"]] = counts.get(unit["_id"], 0) + 1
        by_opd.setdefault(unit["_id"], [0, 0])
        by_opd[unit["_id"]][0] += spent[n]
        by_opd[unit["_id"]][1] += spent[n] >= 100_000
    await db.opds.insert_many([u | {"active": True, "asn_count": counts.get(u["_id"], 0)} for u in units])
    governments = {g: [0, 0, 0] for g in GOVERNMENTS}
    for u in units:
        figures = by_opd.get(u["_id"], [0, 0])
        governments[u["government"]][0] += counts.get(u["_id"], 0)
        governments[u["government"]][1] += figures[0]
        governments[u["government"]][2] += figures[1]
    await db.opd_months.insert_many(
        [
            {
                "_id": f"{month}:{u['_id']}",
                "month": month,
                "opd_id": u["_id"],
                "government": u["government"],
                "spent": by_opd.get(u["_id"], [0, 0])[0],
                "met": by_opd.get(u["_id"], [0, 0])[1],
            }
            for u in units
        ]
    )
    await db.government_counts.insert_many([{"_id": g, "asn_count": v[0]} for g, v in governments.items()])
    await db.government_months.insert_many(
        [{"_id": f"{month}:{g}", "month": month, "government": g, "spent": v[1], "met": v[2]} for g, v in governments.items()]
    )


async def seed_month(db, month: str, spent: list[int], orders: int) -> None:
    """The dashboard's figures of the month."""
    gmv = sum(spent)
    by_regency = {r: gmv // len(REGENCIES) for r in REGENCIES}
    await db.months.insert_one(
        {
            "_id": month,
            "gmv": gmv,
            "levy": gmv // 100,
            "ovop_gross": gmv // 5,
            "orders": orders,
            "refunds": 0,
            "by_regency": by_regency,
            "buyers": len(spent),
            "sellers": 5_000,
        }
    )


async def seed_asn(db, opd_of: list[dict], spent: list[int], month: str) -> None:
    """The roster and each ASN's spending of the month, in batches."""
    asn = len(spent)
    for start in range(0, asn, BATCH):
        nips = [f"{n:018d}" for n in range(start, min(asn, start + BATCH))]  # unique ids; their structure is never read here
        await db.asn.insert_many(
            [
                {
                    "_id": nip,
                    "name": f"ASN {start + i}",
                    "opd_id": opd_of[start + i]["_id"],
                    "government": opd_of[start + i]["government"],
                    "email": "",
                    "phone": "",
                }
                for i, nip in enumerate(nips)
            ]
        )
        await db.spending.insert_many(
            [
                {
                    "_id": f"acc-{start + i}:{month}",
                    "account_id": f"acc-{start + i}",
                    "month": month,
                    "spent": spent[start + i],
                    "nip": nip,
                    "opd_id": opd_of[start + i]["_id"],
                    "government": opd_of[start + i]["government"],
                    "orders": [],
                }
                for i, nip in enumerate(nips)
                if spent[start + i]
            ]
        )
        print(f"  seeded {min(asn, start + BATCH)} ASN", flush=True)


async def timed(client: httpx.AsyncClient, path: str, requests: int, **params: str) -> tuple[float, float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def main(asn: int, orders: int, requests: int) -> None:
    endpoints = stack.ensure_infra(TEST, timeout=600)  # a busy machine starts Kafka slowly
    mongo = AsyncMongoClient(endpoints.mongodb_url, tz_aware=True)
    await mongo.drop_database(DATABASE)
    db = mongo[DATABASE]
    await ProgrammeStore(db).ensure_indexes()
    month = month_of(datetime.now(UTC))
    started = time.monotonic()
    await seed(db, asn, orders, month, random.Random(7))
    print(f"[programme queries] seeded {asn} ASN / {orders} orders' read models in {time.monotonic() - started:.0f} s")
    process = start_app(TEST, endpoints, "programme", instance=8, port=PORT, extra_env={"MONGODB_DATABASE": DATABASE, "REMINDER_DAY": "0"})
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", headers=office(), timeout=60) as client:
            cases = [
                ("compliance per OPD of one regency (30 OPDs)", "/programme/compliance/opds", {"government": "Sikka", "month": month}),
                ("compliance per OPD of the province (40 OPDs)", "/programme/compliance/opds", {"government": PROVINCE, "month": month}),
                ("compliance per government + province TOTAL", "/programme/compliance/governments", {"month": month}),
                ("dashboard", "/programme/dashboard", {"month": month}),
                ("ASN below the commitment in one OPD", "/programme/compliance/opds/sikka-07/below", {"month": month}),
            ]
            for label, path, params in cases:
                await timed(client, path, 5, **params)  # warm-up
                median, p95 = await timed(client, path, requests, **params)
                print(f"[programme queries] {label}: median {median:.1f} ms, p95 {p95:.1f} ms ({requests} requests)")
    finally:
        process.stop()
        await mongo.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--asn", type=int, default=150_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.asn, args.orders, args.requests))
