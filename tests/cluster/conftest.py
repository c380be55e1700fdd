"""The cluster tests need the three-node profile: `make test-cluster` (BELI_KAFKA_NODES=3)."""

import os

if int(os.environ.get("BELI_KAFKA_NODES", "1") or 1) < 3:
    # Collected only by `make test-cluster`, which `.ci/run` runs after `make test`.
    collect_ignore_glob = ["test_*.py"]
