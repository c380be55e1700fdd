"""A service's start-up never goes on without its indexes, an index conflict is an error,
/healthz reports the database, the indexes and Kafka, and a consumed event wakes only the jobs
whose work its type creates."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beli_contracts import Envelope, EventPayload
from beli_contracts.orders import OrderCancelled, OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime.consumer import Subscription
from beli_runtime.http import create_app
from beli_runtime.mongo import IndexConflict, Session, ensure_index
from beli_runtime.service import ServiceRuntime
from beli_runtime.settings import ServiceSettings
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

Scratch = Any  # the `space` fixture's type (conftest.py)


def runtime_for(space: Scratch, kafka: str | None = None) -> ServiceRuntime:
    settings = ServiceSettings(
        service_name=space.group,
        mongodb_url=space.mongodb_url,
        mongodb_database=space.db.name,
        kafka_bootstrap_servers=kafka or space.bootstrap,
    )
    return ServiceRuntime(settings)


async def test_an_index_with_other_options_is_an_error_not_hidden(space: Scratch) -> None:
    await ensure_index(space.db["claims"], "email", name="email_unique", unique=True)
    await ensure_index(space.db["claims"], "email", name="email_unique", unique=True)  # the same again is fine
    with pytest.raises(IndexConflict, match="email_unique"):
        await ensure_index(space.db["claims"], "email", name="email_unique")  # no longer unique: someone must decide


async def test_start_up_fails_after_repeated_index_failures(space: Scratch) -> None:
    runtime = runtime_for(space)
    tries = []

    async def prepare() -> None:
        tries.append(1)
        raise ConnectionError("the database keeps refusing")

    try:
        with pytest.raises(RuntimeError, match="indexes not created after 3 attempts"):
            await runtime.create_indexes(prepare, attempts=3)
        assert len(tries) == 3
        checks = await runtime.health()
        assert checks["indexes"] == "not created" and checks["mongodb"] == "ok"
    finally:
        await runtime.client.close()


async def test_an_index_conflict_stops_start_up_at_once(space: Scratch) -> None:
    runtime = runtime_for(space)
    await space.db["claims"].create_index("nip", name="nip_unique", unique=True)
    tries = []

    async def prepare() -> None:
        tries.append(1)
        await ensure_index(runtime.db["claims"], "nip", name="nip_unique")

    try:
        with pytest.raises(IndexConflict):
            await runtime.create_indexes(prepare, attempts=5)
        assert len(tries) == 1 and not runtime.indexes_ready
    finally:
        await runtime.client.close()


async def test_health_reports_database_indexes_and_kafka(space: Scratch) -> None:
    runtime = runtime_for(space)

    async def prepare() -> None:
        await ensure_index(runtime.db["claims"], "nip")

    try:
        await runtime.create_indexes(prepare)
        assert await runtime.health() == {"mongodb": "ok", "indexes": "ok", "kafka": "ok"}
    finally:
        await runtime.client.close()
    away = runtime_for(space, kafka="127.0.0.1:1")
    try:
        assert (await away.health())["kafka"].startswith("unavailable")
    finally:
        await away.client.close()


@pytest.mark.parametrize(
    ("checks", "status"),
    [
        ({"mongodb": "ok", "indexes": "ok", "kafka": "ok"}, 200),
        ({"mongodb": "ok", "indexes": "not created", "kafka": "ok"}, 503),
        ({"mongodb": "unavailable: ServerSelectionTimeoutError", "indexes": "ok", "kafka": "ok"}, 503),
        # The outbox keeps events while Kafka is away: reported, but the service still takes orders.
        ({"mongodb": "ok", "indexes": "ok", "kafka": "unavailable: ConnectionRefusedError"}, 200),
    ],
)
def test_healthz_is_503_without_database_or_indexes(checks: dict[str, str], status: int) -> None:
    @contextlib.asynccontextmanager
    async def nothing(app: Any) -> AsyncIterator[None]:
        yield

    async def health() -> dict[str, str]:
        return checks

    app = create_app(title="t", description="t", lifespan=nothing, health=health, max_request_bytes=1024)
    with TestClient(app) as client:
        answer = client.get("/healthz")
    assert answer.status_code == status and answer.json()["checks"] == checks


async def test_only_a_commit_that_wrote_events_wakes_the_relay(space: Scratch) -> None:
    """A consumer's commit wakes the jobs its events create work for, and the relay only if the
    transaction added outbox rows: a sale the programme tallies costs its relay no look, an ASN
    meeting the commitment (an event) goes out at once."""
    settings = ServiceSettings(service_name="quiet", mongodb_url=space.mongodb_url, mongodb_database=space.db.name)
    runtime = ServiceRuntime(settings)

    async def step() -> bool:
        return False

    job = runtime.add_job("work", step, interval=1.0, woken_by=frozenset({OrderPlaced.TYPE}))
    relay = runtime._relay_job
    try:
        runtime.wake_jobs(frozenset({OrderPlaced.TYPE}), [])  # what a consumer calls after each commit
        assert job._wake.is_set() and not relay._wake.is_set()
        runtime.wake_jobs(frozenset({OrderPlaced.TYPE}), None)  # rows it does not hold (a dead letter)
        assert relay._wake.is_set()
    finally:
        await runtime.client.close()


NEVER = 600.0  # an interval no test waits for: only a wake-up makes such a job look
SHOPPER = Customer(name="Maria", email="maria@example.id", phone="081234567890")


def placed(order_id: str) -> bytes:
    event = OrderPlaced(order_id=order_id, customer=SHOPPER, items=[OrderItem(product_id="prd-1", quantity=1)], placed_at=datetime.now(UTC))
    return Envelope.wrap(event, key=order_id, source="orders").to_bytes()


def cancelled(order_id: str) -> bytes:
    event = OrderCancelled(order_id=order_id, customer=SHOPPER, reason="shopper_cancelled")
    return Envelope.wrap(event, key=order_id, source="orders").to_bytes()


async def test_a_consumed_event_wakes_only_the_jobs_its_type_creates_work_for(space: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = runtime_for(space)

    async def handle(envelope: Envelope, payload: EventPayload, session: Session) -> None:
        pass  # the inbox row is the commit

    runtime.subscribe(Subscription(topics=(space.topic,), handlers={OrderPlaced.TYPE: handle, OrderCancelled.TYPE: handle}))

    async def idle() -> bool:
        return False

    woken: list[str] = []
    for name, woken_by in (("cancel", OrderCancelled.TYPE), ("reserve", OrderPlaced.TYPE), ("sweep", None)):
        job = runtime.add_job(name, idle, interval=NEVER, woken_by=frozenset({woken_by} if woken_by else ()))
        monkeypatch.setattr(job, "wake", lambda name=name: woken.append(name))

    async def nothing() -> None:
        pass

    await runtime._start(nothing)
    try:
        # One partition: each event is committed (and its wake-ups done) before the next one.
        for value in (placed("BNTT-1"), cancelled("BNTT-1"), b"not an event", placed("BNTT-2")):
            await space.send(value)
        # The second placement's wake-up proves every event before it was dealt with.
        await eventually(lambda: asyncio.sleep(0, list(woken)), lambda names: names.count("reserve") >= 2, what="the second placement")
        assert woken == ["reserve", "cancel", "reserve"], "a dead letter, and an event of another type, wake no job"
    finally:
        await runtime._stop()


async def test_a_job_woken_by_an_event_type_nobody_defines_is_refused(space: Scratch) -> None:
    runtime = runtime_for(space)

    async def idle() -> bool:
        return False

    try:
        with pytest.raises(ValueError, match=r"orders\.order_canceled"):  # a typo would leave the job to its polling
            runtime.add_job("cancel", idle, interval=NEVER, woken_by=frozenset({"orders.order_canceled"}))
    finally:
        await runtime.client.close()
