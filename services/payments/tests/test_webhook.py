"""Midtrans's webhook on the real database, through the app's own routes (no Kafka, no Midtrans,
no jobs): notifications arriving together are stored together, each answered only once it is
stored, with its own outcome (issue 11)."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from payments.domain import signature_key
from payments.main import PaymentsService, build_app
from payments.settings import PaymentsSettings
from tests.service_layer import ServiceDatabase, serving

pytestmark = pytest.mark.infra  # the real database (no broker, no Midtrans)

SERVER_KEY = "SB-Mid-server-test"


@pytest.fixture
async def webhook(service_database: ServiceDatabase) -> AsyncIterator[tuple[httpx.AsyncClient, PaymentsService]]:
    app = build_app(PaymentsSettings(**service_database.settings(), midtrans_server_key=SERVER_KEY))
    async with serving(app) as client:
        yield client, app.state.service


def notification(order_id: str, status: str = "settlement", code: str = "200", gross: str = "750000.00") -> dict[str, str]:
    return {
        "order_id": order_id,
        "transaction_status": status,
        "status_code": code,
        "gross_amount": gross,
        "fraud_status": "accept",
        "payment_type": "qris",
        "transaction_id": f"tx-{order_id}",
        "signature_key": signature_key(order_id, code, gross, SERVER_KEY),
    }


async def inserts(service: PaymentsService) -> int:
    """Insert commands the database received on the notifications' collection so far."""
    top = await service.runtime.client.admin.command("top")
    counts = top["totals"].get(f"{service.runtime.db.name}.midtrans_notifications", {})
    return int(counts.get("insert", {}).get("count", 0))


async def test_notifications_arriving_together_share_a_write_and_each_is_stored_with_its_own_answer(
    webhook: tuple[httpx.AsyncClient, PaymentsService],
) -> None:
    """Twelve orders' notifications at the same moment, one of them sent twice among them and one
    repeating a notification kept earlier, plus a forged one: every genuine notification is stored
    by the time it is answered, the repeats answer as duplicates and are kept once, the forged one
    is refused, and the twelve took fewer writes than notifications."""
    client, service = webhook
    earlier = notification(f"ord-{uuid.uuid4().hex[:12]}")
    first = await client.post("/midtrans/notification", json=earlier)
    assert (first.status_code, first.json()) == (200, {"status": "received"})

    fresh = [notification(f"ord-{uuid.uuid4().hex[:12]}") for _ in range(12)]
    forged = notification(f"ord-{uuid.uuid4().hex[:12]}") | {"signature_key": "0" * 128}
    bodies = [*fresh, fresh[3], earlier, forged]
    before = await inserts(service)
    answers = await asyncio.gather(*(client.post("/midtrans/notification", json=body) for body in bodies))
    writes = await inserts(service) - before
    print(f"[webhook] {len(bodies)} notifications at once, {writes} inserts")

    statuses = [(answer.status_code, answer.json().get("status")) for answer in answers]
    assert [status for n, status in enumerate(statuses[:12]) if n != 3] == [(200, "received")] * 11, statuses
    # The order of two identical notifications is the arrival's: one is received, one a duplicate.
    assert sorted([statuses[3], statuses[12]]) == [(200, "duplicate"), (200, "received")], statuses
    assert statuses[13] == (200, "duplicate"), "a notification kept earlier is a duplicate"
    assert answers[14].status_code == 401 and "signature_key" in answers[14].json()["message"]
    for body in [*fresh, earlier]:
        kept = await service.store.notifications.count_documents({"order_id": body["order_id"]})
        assert kept == 1, f"{body['order_id']} kept {kept} times"
    assert await service.store.notifications.count_documents({"order_id": forged["order_id"]}) == 0
    assert 0 < writes < len(fresh), f"{writes} writes stored {len(fresh)} notifications: they did not share their writes"
    due = {notice.order_id for notice in await service.store.notifications_due()}
    assert due == {body["order_id"] for body in [*fresh, earlier]}, "a stored notification is not waiting for the job"
