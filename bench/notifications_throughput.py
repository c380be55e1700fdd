"""How many notifications per second the notifications service gets into the local SMTP server.

    uv run --frozen python bench/notifications_throughput.py [--events 1000] [--profile test|dev]

`--profile test` (default) starts, or reuses, Kafka, the database, the messaging simulator and
the notifications service on the test profile's ports (BELI_TEST_SLOT picks the slot; use a slot
no test run is using) and stops what it started at the end (`--keep` leaves it running).
`--profile dev` measures a running `make dev` stack and starts nothing.

It publishes N `catalog.stock_low` events (one seller each, e-mail only: no phone) to Kafka in one
burst (or `--rate` events a second: a steady flow, as a payday rush brings, without the backlog a
burst leaves for every look of the sending job to read) and waits until N mails reached the simulator's SMTP mailbox. It reports:
- end to end: Kafka -> consumer (intent recorded) -> e-mail job -> SMTP, per second;
- SMTP phase: mails per second between the first and the last arrival;
- transport ceiling: the service's own EmailTransport alone, N sends at the configured concurrency;
- the database's work during the measured run (issue 11): operations per event by kind (the
  serverStatus opcounters, the harness's own subtracted; a bulk write counts once per statement
  or once per command, as the server counts it), the documents written to `deliveries` per event
  (from `top`: its insert/update counts), and the database process's CPU per event.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiokafka import AIOKafkaProducer
from throughput_measure import Probe, cpu_used, operations

from beli_contracts import Envelope
from beli_contracts.catalog import StockLow
from beli_contracts.values import SellerContact
from infra import stack
from infra.apps import start_app
from infra.processes import ManagedProcess, load_process
from infra.profiles import DEV, TEST, Profile
from notifications.channels import EmailTransport
from notifications.settings import NotificationsSettings
from notifications.store import Delivery


def event(run: str, n: int) -> Envelope:
    seller = SellerContact(
        seller_id=f"bench-{run}-{n}",
        name=f"UMKM bench {n}",
        email=f"bench-{run}-{n}@bench.example.id",
        phone="",
        regency="Kota Kupang",
        email_verified=True,  # an unproven address gets nothing (a skipped delivery)
    )
    payload = StockLow(product_id=f"prd-{n}", product_name="Kopi Arabika Bajawa 250 g", seller=seller, stock=1, threshold=5)
    return Envelope.wrap(payload, key=seller.seller_id, source="bench")


async def mail_count(client: httpx.AsyncClient) -> int:
    return int((await client.get("/mail/count")).json()["count"])


async def measured(
    profile: Profile, mongodb_url: str, bootstrap: str, events: int, timeout: float, rate: float = 0
) -> tuple[float, float, int, dict[str, Any]]:
    """The end-to-end run, with the database's operations and CPU over it."""
    probe = Probe(profile, mongodb_url)
    try:
        before, written = await probe.snapshot(), await deliveries_written(probe)
        elapsed, smtp_phase, count = await end_to_end(profile, bootstrap, events, timeout, rate)
        await asyncio.sleep(1)  # the last outcomes' write follows the last mail
        after, written_after = await probe.snapshot(), await deliveries_written(probe)
    finally:
        await probe.close()
    counted = operations(before, after)
    mongo = {name: seconds for name, seconds in cpu_used(before, after).items() if "mongo" in name}
    deliveries = {name: written_after[name] - written[name] for name in written}
    return elapsed, smtp_phase, count, counted | {"database_cpu": mongo, "deliveries": deliveries}


async def deliveries_written(probe: Probe) -> dict[str, int]:
    """`top`'s insert and update counts of the notifications' `deliveries`."""
    totals = (await probe.client.admin.command("top"))["totals"]
    sections = next((v for k, v in totals.items() if k.endswith(".deliveries") and "notif" in k), {})
    return {name: int(sections.get(name, {}).get("count", 0)) for name in ("insert", "update")}


async def end_to_end(profile: Profile, bootstrap: str, events: int, timeout: float, rate: float = 0) -> tuple[float, float, int]:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=profile.service_url("messaging"), timeout=30) as messaging:
        before = await mail_count(messaging)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
        await producer.start()
        try:
            started = time.perf_counter()
            sent = []
            for n in range(events):
                if rate > 0:  # paced: the n-th event leaves n/rate seconds after the first
                    await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
                e = event(run, n)
                sent.append(await producer.send(e.topic, e.to_bytes(), key=e.key.encode()))
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        deadline = started + timeout
        while await mail_count(messaging) < before + events:
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {await mail_count(messaging) - before} of {events} mails arrived in {timeout:.0f} s")
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        mine = [
            m
            for m in (await messaging.get("/mail", params={"limit": events + 1000})).json()
            if any(f"bench-{run}-" in to for to in m["to"])
        ]
    arrivals = sorted(datetime.fromisoformat(m["received_at"]) for m in mine)
    smtp_phase = (arrivals[-1] - arrivals[0]).total_seconds() if len(arrivals) > 1 else elapsed
    return elapsed, smtp_phase, len(mine)


async def transport_ceiling(profile: Profile, sends: int, concurrency: int) -> float:
    settings = NotificationsSettings(smtp_host="127.0.0.1", smtp_port=profile.smtp_port, send_concurrency=concurrency)
    transport = EmailTransport(settings)
    gate = asyncio.Semaphore(concurrency)
    run = uuid.uuid4().hex[:8]

    async def one(n: int) -> None:
        async with gate:
            await transport.send(
                Delivery(
                    id=f"ceiling-{run}-{n}",
                    channel="email",
                    status="sending",
                    attempts=1,
                    address=f"ceiling-{run}-{n}@bench.example.id",
                    subject="Stok menipis",
                    text="Sisa stok: 1\n" * 20,
                    html="<p>Sisa stok: 1</p>" * 20,
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(sends)))
    return sends / (time.perf_counter() - started)


def start_stack(profile: Profile, concurrency: int) -> tuple[str, list[ManagedProcess], bool]:
    """Returns the bootstrap address, the apps started here, and whether the infra was started here."""
    had_infra = stack.kafka_process(profile) is not None and stack.mongo_process(profile) is not None
    endpoints = stack.ensure_infra(profile)
    started = []
    for name, env in (("messaging", {}), ("notifications", {"SEND_CONCURRENCY": str(concurrency)})):
        if load_process(profile.pid_dir / f"{name}.pid") is None:
            started.append(start_app(profile, endpoints, name, extra_env=env))
    return endpoints.kafka_bootstrap, started, not had_infra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--profile", choices=("test", "dev"), default="test")
    parser.add_argument("--concurrency", type=int, default=8, help="SEND_CONCURRENCY of a notifications service started here")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--rate", type=float, default=0, help="events a second (default: all in one burst)")
    parser.add_argument("--keep", action="store_true", help="leave a test-profile stack running")
    args = parser.parse_args()
    profile = DEV if args.profile == "dev" else TEST
    if args.profile == "dev":
        bootstrap, started, own_infra = DEV.kafka_bootstrap, [], False
    else:
        print(f"starting (or reusing) the {profile.name} stack ...", flush=True)
        bootstrap, started, own_infra = start_stack(profile, args.concurrency)
    try:
        asyncio.run(end_to_end(profile, bootstrap, min(50, args.events), args.timeout))  # warm-up: connections, JIT caches
        elapsed, smtp_phase, count, database = asyncio.run(
            measured(profile, profile.mongodb_url, bootstrap, args.events, args.timeout, args.rate)
        )
        ceiling = asyncio.run(transport_ceiling(profile, args.events, args.concurrency))
    finally:
        if not args.keep:
            for process in started:
                process.stop()
            if own_infra:
                stack.stop_infra(profile)
    pace = f"{args.rate:g} events/s" if args.rate else "one burst"
    print(f"\n{count} notifications (stock_low, e-mail, {pace}) through the notifications service to the local SMTP server:")
    print(f"  end to end (Kafka -> consumer -> e-mail job -> SMTP): {count / elapsed:7.1f} /s  ({elapsed:.1f} s)")
    print(f"  SMTP phase (first to last arrival):                   {count / smtp_phase:7.1f} /s  ({smtp_phase:.1f} s)")
    print(f"  EmailTransport alone, concurrency {args.concurrency}:                {ceiling:7.1f} /s")
    report_database(database, count)
    return 0


def report_database(database: dict[str, Any], events: int) -> None:
    per = max(events, 1)
    buckets = ", ".join(f"{name} {n / per:.2f}" for name, n in database["buckets"].items() if n)
    print(f"  database operations per event: {(database['total']) / per:.2f} ({buckets}; harness's own subtracted)")
    for name, n in database["deliveries"].items():
        print(f"  deliveries {name} per event (statements, from top): {n / per:.2f}")
    for name, seconds in database["database_cpu"].items():
        print(f"  database CPU per event ({name}): {seconds * 1000 / per:.2f} ms  ({seconds:.1f} s)")

    return 0


if __name__ == "__main__":
    sys.exit(main())
