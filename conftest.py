"""Test fixtures shared by every test folder: real Kafka and the MongoDB-protocol server, and
the whole system (simulator + four services) as real processes on the `test` profile ports.

Set KAFKA_BOOTSTRAP_SERVERS / MONGODB_URL to use running ones instead of starting them.
BELI_KEEP_STACK=1 leaves everything running after the session (for debugging).
"""

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from beli_runtime.mongo import connect

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from infra import containers, stack  # noqa: E402
from infra.apps import start_apps  # noqa: E402
from infra.profiles import TEST  # noqa: E402
from infra.tokens import DEV_PUBLIC_KEY  # noqa: E402
from tests.service_layer import ServiceDatabase  # noqa: E402
from tests.support import Api, System  # noqa: E402

BACKEND = containers.choose_backend(os.environ.get(containers.INFRA_ENV))
# Tests that crash or restart the broker or the database signal local processes themselves.
NEEDS_PROCESSES = ("tests/test_faults.py", "tests/cluster/")


def pytest_report_header() -> str:
    where = (
        "Kafka + MongoDB replica set in Docker (testcontainers)"
        if BACKEND == "containers"
        else "Kafka jars + SecantusDB as local processes"
    )
    return f"infrastructure ({containers.INFRA_ENV}): {BACKEND}: {where}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if BACKEND != "containers":
        return
    skip = pytest.mark.skip(reason="crashes or restarts local infrastructure processes: BELI_TEST_INFRA=processes runs it")
    for item in items:
        if any(part in item.nodeid for part in NEEDS_PROCESSES):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def infra() -> Iterator[stack.Endpoints]:
    if BACKEND == "containers":
        with containers.running_containers() as (bootstrap, mongodb_url):
            os.environ[stack.KAFKA_ENV], os.environ[stack.MONGO_ENV] = bootstrap, mongodb_url
            yield stack.ensure_infra(TEST)
        return
    if not stack.external_kafka() and not stack.external_mongo():
        # A clean broker and database per run: old topics would otherwise replay old orders.
        stack.stop_all(TEST)
        shutil.rmtree(TEST.run_dir, ignore_errors=True)
    endpoints = stack.ensure_infra(TEST)
    yield endpoints
    if not os.environ.get("BELI_KEEP_STACK"):
        stack.stop_all(TEST)


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """Only the MongoDB-protocol server (its URL), for service-layer tests that need the database
    but not Kafka: starting the broker costs more than the tests themselves. In the same session
    as the `infra` fixture it is that server; with containers both start together."""
    if BACKEND == "containers":
        yield request.getfixturevalue("infra").mongodb_url
        return
    if stack.external_mongo():
        yield stack.external_mongo() or ""
        return
    started = stack.mongo_process(TEST) is None
    stack.start_mongo(TEST)
    yield TEST.mongodb_url
    # The `infra` fixture, if it ran too, stopped everything already.
    if started and not os.environ.get("BELI_KEEP_STACK"):
        stack.stop_mongo(TEST)


@pytest.fixture
async def service_database(database: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServiceDatabase]:
    """A fresh database per test (dropped after it), and the development key that checks the
    tokens the test mints."""
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", str(DEV_PUBLIC_KEY))
    name = f"beli_service_{uuid.uuid4().hex[:12]}"
    yield ServiceDatabase(database, name)
    client = connect(database)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def system(infra: stack.Endpoints) -> Iterator[System]:
    processes = start_apps(TEST, infra)
    yield System(profile=TEST, endpoints=infra, processes=processes)


@pytest.fixture(scope="session")
async def api(system: System) -> AsyncIterator[Api]:
    async with Api.connect(system) as client:
        yield client
