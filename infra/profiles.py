"""Where each local stack lives and which ports it uses.

Two fixed profiles so that a developer's stack (``dev``) and the test suite's (``test``) can run
side by side on one machine without touching each other's ports or data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

SERVICE_NAMES = ("catalog", "orders", "payments", "notifications", "programme", "web", "midtrans", "messaging")


@dataclass(frozen=True)
class Profile:
    name: str
    run_dir: Path
    kafka_port: int
    kafka_controller_port: int
    mongo_port: int
    catalog: int
    orders: int
    payments: int
    notifications: int
    programme: int
    web: int
    midtrans: int
    messaging: int
    # 1: one KRaft node (broker + controller). 3: the cluster profile's three nodes, each both, on
    # kafka_port + 10*i / kafka_controller_port + 10*i; topics get RF 3 and min.insync.replicas 2.
    kafka_nodes: int = 1

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap addresses of the broker(s) this profile starts itself."""
        return ",".join(f"127.0.0.1:{self.kafka_port + 10 * i}" for i in range(self.kafka_nodes))

    @property
    def kafka_replicas(self) -> int:
        """Replication factor of every topic: one copy per node, at most three."""
        return min(3, self.kafka_nodes)

    @property
    def kafka_min_insync(self) -> int:
        """min.insync.replicas: with three copies an acknowledged write is on at least two."""
        return min(2, self.kafka_replicas)

    @property
    def mongodb_url(self) -> str:
        """The URL of the database this profile starts itself (a single standalone node)."""
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"

    @property
    def service_ports(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SERVICE_NAMES}

    @property
    def smtp_port(self) -> int:
        """The messaging simulator's SMTP mailbox: its HTTP port + 19 (dev 8025, test 18025 + shift)."""
        return self.messaging + 19

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.service_ports[name]}"


DEV = Profile(
    name="dev",
    run_dir=REPO_ROOT / ".run" / "dev",
    kafka_port=9092,
    kafka_controller_port=9093,
    mongo_port=27017,
    catalog=8001,
    orders=8002,
    payments=8003,
    notifications=8004,
    programme=8007,
    web=8000,
    midtrans=8005,
    messaging=8006,
)


def test_profile(slot: int = 0, kafka_nodes: int = 1) -> Profile:
    """The test suite's stack. BELI_TEST_SLOT=N (0-9) moves every port by N*100 and uses its own
    run dir, so that several suites can run side by side on one machine. BELI_KAFKA_NODES=3 runs
    the cluster profile's three Kafka nodes instead of one (`make test-cluster`)."""
    shift = slot * 100
    name = ("test" if slot == 0 else f"test{slot}") + ("-cluster" if kafka_nodes > 1 else "")
    return Profile(
        name=name,
        run_dir=REPO_ROOT / ".run" / name,
        kafka_port=19092 + shift,
        kafka_controller_port=19093 + shift,
        mongo_port=27117 + shift,
        catalog=18001 + shift,
        orders=18002 + shift,
        payments=18003 + shift,
        notifications=18004 + shift,
        programme=18007 + shift,
        web=18000 + shift,
        midtrans=18005 + shift,
        messaging=18006 + shift,
        kafka_nodes=kafka_nodes,
    )


TEST = test_profile(int(os.environ.get("BELI_TEST_SLOT", "0") or 0), int(os.environ.get("BELI_KAFKA_NODES", "1") or 1))

PROFILES = {"dev": DEV, "test": TEST}
