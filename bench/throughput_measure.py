"""What bench/throughput.py measures besides the orders themselves: the database's operation
counters (with the harness's own operations counted, to subtract them), the CPU time of every
process of the stack, and the floor: the same database's cost for the minimal work of one order."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psutil
from pymongo import AsyncMongoClient, monitoring

from beli_runtime.mongo import IDLE_CONNECTION_MS
from infra.processes import managed_processes
from infra.profiles import Profile

BUCKETS = ("insert", "query", "update", "delete", "getmore", "command")
# The floor's order: the fewest writes the saga could do (placed, reserved, priced, link, paid,
# settled: each a state change plus the record of it, made atomically) and the reads it cannot
# avoid (the product to reserve, the payment a notification names), on indexed fields.
FLOOR_TRANSACTIONS = 6
FLOOR_FINDS = 2
FLOOR_DATABASE = "bench_floor"


class HarnessOperations(monitoring.CommandListener, monitoring.ServerHeartbeatListener, monitoring.ConnectionPoolListener):
    """Every operation the harness's own database client sends: commands, the monitor's heartbeats
    and each new connection's handshake all count at the server, so all are counted here."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: Any) -> None:  # a command, or a heartbeat
        self.count += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def connection_created(self, event: Any) -> None:  # its handshake is one `hello`
        self.count += 1

    def pool_created(self, event: Any) -> None:
        pass

    def pool_ready(self, event: Any) -> None:
        pass

    def pool_cleared(self, event: Any) -> None:
        pass

    def pool_closed(self, event: Any) -> None:
        pass

    def connection_ready(self, event: Any) -> None:
        pass

    def connection_closed(self, event: Any) -> None:
        pass

    def connection_check_out_started(self, event: Any) -> None:
        pass

    def connection_check_out_failed(self, event: Any) -> None:
        pass

    def connection_checked_out(self, event: Any) -> None:
        pass

    def connection_checked_in(self, event: Any) -> None:
        pass


@dataclass
class Snapshot:
    at: float
    opcounters: dict[str, int]
    by_namespace: dict[str, int]
    harness: int
    cpu: dict[str, float]
    # The harness's own process: its shoppers share the machine's cores with the stack they measure.
    harness_cpu: float = 0.0


class Probe:
    """The harness's one database client (its operations counted) and the stack's processes."""

    def __init__(self, profile: Profile, mongodb_url: str) -> None:
        self.harness = HarnessOperations()
        # Heartbeats rarely (every 60 s): fewer operations of our own in the counts. Its connections sit
        # idle through a long run: dropped by the pool after a minute, before the server closes them.
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            mongodb_url, event_listeners=[self.harness], heartbeatFrequencyMS=60_000, tz_aware=True, maxIdleTimeMS=IDLE_CONNECTION_MS
        )
        self.processes = {process.name: psutil.Process(process.pid) for process in managed_processes(profile.pid_dir)}

    async def close(self) -> None:
        await self.client.close()

    async def snapshot(self) -> Snapshot:
        status = await self.client.admin.command("serverStatus")
        top = await self.client.admin.command("top")
        counted = self.harness.count
        by_namespace = {
            namespace: int(sections["total"]["count"])
            for namespace, sections in top.get("totals", {}).items()
            if isinstance(sections, dict) and "total" in sections
        }
        opcounters = {bucket: int(status["opcounters"].get(bucket, 0)) for bucket in BUCKETS}
        return Snapshot(time.monotonic(), opcounters, by_namespace, counted, self.cpu_seconds(), sum(psutil.Process().cpu_times()[:2]))

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds of each process and its children, by pid-file name."""
        seconds: dict[str, float] = {}
        for name, process in self.processes.items():
            try:
                family = [process, *process.children(recursive=True)]
                seconds[name] = sum(sum(member.cpu_times()[:2]) for member in family)
            except psutil.Error:
                seconds[name] = float("nan")
        return seconds


def operations(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """Operations between two snapshots, the harness's own subtracted from the total (they are
    commands: serverStatus, top, counting the outboxes, handshakes)."""
    buckets = {bucket: after.opcounters[bucket] - before.opcounters[bucket] for bucket in BUCKETS}
    harness = after.harness - before.harness
    # `top` counts per collection, so commands without one (commitTransaction, hello) are not in these.
    collections = {name: count - before.by_namespace.get(name, 0) for name, count in after.by_namespace.items()}
    databases: Counter[str] = Counter()
    for name, count in collections.items():
        databases[name.split(".", 1)[0]] += count
    busiest = sorted((item for item in collections.items() if item[1]), key=lambda item: -item[1])
    return {
        "total": sum(buckets.values()) - harness,
        "buckets": buckets,
        "harness": harness,
        "by_database": {name: count for name, count in sorted(databases.items()) if count},
        "busiest_collections": dict(busiest[:12]),
    }


def cpu_used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    return {name: after.cpu[name] - before.cpu.get(name, 0.0) for name in after.cpu}


async def idle(probe: Probe, seconds: float) -> dict[str, Any]:
    """The stack doing nothing for `seconds`: database operations per second and each process's
    share of a core (the target: the database below 3 % of a core when idle)."""
    before = await probe.snapshot()
    await asyncio.sleep(seconds)
    after = await probe.snapshot()
    elapsed = after.at - before.at
    counted = operations(before, after)
    return {
        "seconds": round(elapsed, 1),
        "database_operations_per_second": round(counted["total"] / elapsed, 1),
        "core_share": {name: round(used / elapsed, 3) for name, used in cpu_used(before, after).items()},
    }


async def floor(probe: Probe, orders: int, concurrency: int) -> dict[str, Any]:
    """`orders` floor orders, `concurrency` at a time, each FLOOR_TRANSACTIONS transactions of one
    insert and one update by _id, and FLOOR_FINDS finds on an indexed field, in a scratch database."""
    client = probe.client
    await client.drop_database(FLOOR_DATABASE)
    database = client[FLOOR_DATABASE]
    await database["records"].create_index("order_id")
    await database["orders"].insert_one({"_id": "warm-up", "step": 0})
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(orders):
        queue.put_nowait(uuid.uuid4().hex)

    async def worker() -> None:
        while not queue.empty():
            await floor_order(client, database, queue.get_nowait())

    before = await probe.snapshot()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    after = await probe.snapshot()
    await client.drop_database(FLOOR_DATABASE)
    elapsed = after.at - before.at
    counted = operations(before, after)
    return {
        "orders": orders,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "orders_per_second": round(orders / elapsed, 2),
        # The floor's operations are the harness's own (its client ran them): counted exactly there.
        "database_operations_per_order": round(counted["harness"] / orders, 1),
        "database_cpu_seconds_per_order": round(cpu_used(before, after).get("mongo", float("nan")) / orders, 4),
        "shape": f"{FLOOR_TRANSACTIONS} transactions (insert + update by _id) + {FLOOR_FINDS} indexed finds per order",
    }


async def floor_order(client: AsyncMongoClient[dict[str, Any]], database: Any, order_id: str) -> None:
    for step in range(FLOOR_TRANSACTIONS):

        async def work(session: Any, step: int = step) -> None:
            await database["records"].insert_one({"order_id": order_id, "step": step}, session=session)
            await database["orders"].update_one(
                {"_id": order_id}, {"$set": {"step": step, "at": time.time()}}, upsert=step == 0, session=session
            )

        async with client.start_session() as session:
            await session.with_transaction(work)
        if step in (1, 4):  # the product before reserving, the payment before settling
            await database["records"].find_one({"order_id": order_id})
