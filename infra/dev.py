"""`make dev`: start Kafka, the database, the Midtrans simulator and the four services on the
dev profile ports, seed demo data, and print where everything is."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import stack  # noqa: E402
from infra.apps import start_apps  # noqa: E402
from infra.profiles import DEV  # noqa: E402
from infra.seed import seed  # noqa: E402


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    started = time.monotonic()
    endpoints = stack.ensure_infra(DEV)
    start_apps(DEV, endpoints)
    created = seed(DEV.service_url("catalog"))
    print(f"\nBeli NTT is running ({time.monotonic() - started:.0f} s). Seeded {created} products" + (" (already seeded)" if not created else "") + ".")
    print(f"  Kafka          {endpoints.kafka_bootstrap}")
    print(f"  MongoDB        {endpoints.mongodb_url}")
    for name in ("catalog", "orders", "payments", "notifications"):
        print(f"  {name:<14} {DEV.service_url(name)}   (API docs: {DEV.service_url(name)}/docs)")
    print(f"  midtrans sim.  {DEV.service_url('midtrans')}   (transactions: {DEV.service_url('midtrans')}/simulator/transactions)")
    print(f"  logs           {DEV.log_dir}")
    print("Stop everything with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
