"""Test fixtures shared by every test folder: real Kafka and the MongoDB-protocol server, and
the whole system (simulator + four services) as real processes on the `test` profile ports.

Set KAFKA_BOOTSTRAP_SERVERS / MONGODB_URL to use running ones instead of starting them.
BELI_KEEP_STACK=1 leaves everything running after the session (for debugging).
"""

import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from infra import stack  # noqa: E402
from infra.apps import start_apps  # noqa: E402
from infra.profiles import TEST  # noqa: E402
from tests.support import Api, System  # noqa: E402


@pytest.fixture(scope="session")
def infra() -> Iterator[stack.Endpoints]:
    if not stack.external_kafka() and not stack.external_mongo():
        # A clean broker and database per run: old topics would otherwise replay old orders.
        stack.stop_all(TEST)
        shutil.rmtree(TEST.run_dir, ignore_errors=True)
    endpoints = stack.ensure_infra(TEST)
    yield endpoints
    if not os.environ.get("BELI_KEEP_STACK"):
        stack.stop_all(TEST)


@pytest.fixture(scope="session")
def system(infra: stack.Endpoints) -> Iterator[System]:
    processes = start_apps(TEST, infra)
    yield System(profile=TEST, endpoints=infra, processes=processes)


@pytest.fixture(scope="session")
async def api(system: System) -> AsyncIterator[Api]:
    async with Api.connect(system) as client:
        yield client
