"""The notifications sending job on the real database without Kafka or a provider: the store
comes from the composition root (`build_service`), the transport records what it was given."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from beli_runtime.clock import utcnow
from notifications.main import NotificationsService, build_service
from notifications.sender import DeliveryJob
from notifications.settings import NotificationsSettings
from notifications.store import Delivery
from tests.service_layer import ServiceDatabase, ready

pytestmark = pytest.mark.infra  # the real database (no broker)


class RecordingTransport:
    channel = "whatsapp"
    timeout_seconds = 5.0

    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    def configured(self) -> bool:
        return True

    async def send(self, delivery: Delivery) -> str:
        await asyncio.sleep(0.05)  # long enough for a second sender to try the same delivery
        self.sent.append(delivery)
        return f"wa-{len(self.sent)}"

    async def close(self) -> None:
        pass


@pytest.fixture
async def notifications(service_database: ServiceDatabase) -> AsyncIterator[NotificationsService]:
    service = build_service(NotificationsSettings(**service_database.settings()))
    async with ready(service):
        yield service


async def test_a_due_message_is_sent_once_even_by_two_senders(notifications: NotificationsService) -> None:
    store = notifications.store
    doc = {"_id": "evt-1:order_paid:asn@example.id:whatsapp", "channel": "whatsapp", "status": "pending"}
    doc |= {"recipient": "asn@example.id", "address": "+6281234567890", "text": "Pembayaran pesanan Anda sudah kami terima."}
    await notifications.runtime.write(lambda session: store.add_deliveries(session, [doc]))

    transport = RecordingTransport()
    settings = notifications.settings
    senders = [DeliveryJob(store, [transport], settings), DeliveryJob(store, [transport], settings)]
    await asyncio.gather(*(sender.send_due() for sender in senders))
    await asyncio.gather(*(sender.settle() for sender in senders))

    [sent] = transport.sent
    assert (sent.id, sent.address, sent.attempts) == (doc["_id"], "+6281234567890", 1)
    assert sent.text == "Pembayaran pesanan Anda sudah kami terima."
    stored = await store.deliveries.find_one({"_id": doc["_id"]})
    assert stored is not None and stored["status"] == "sent" and stored["provider_id"] == "wa-1"
    assert await senders[0].send_due() is False  # nothing is due any more


async def test_deliveries_stored_before_due_at_existed_still_go_out(notifications: NotificationsService) -> None:
    """A province deploys this over live data: deliveries written by the previous version (no
    `due_at`) that still had to go out are found after the start-up migration; settled ones stay
    as they were, and running the migration again changes nothing."""
    store = notifications.store
    now = utcnow()
    old = {"channel": "whatsapp", "attempts": 0, "recipient": "asn@example.id", "address": "+6281234567890", "text": "Halo"}
    await store.deliveries.insert_many(
        [
            old | {"_id": "old-pending", "status": "pending", "next_attempt_at": now - timedelta(seconds=5)},
            # A claim left by a sender that died before the upgrade: it is due when it expires.
            old | {"_id": "old-claimed", "status": "sending", "attempts": 1, "next_attempt_at": now - timedelta(seconds=1)},
            old | {"_id": "old-sent", "status": "sent", "attempts": 1, "next_attempt_at": now - timedelta(minutes=5)},
        ]
    )
    await notifications.prepare()
    await notifications.prepare()  # idempotent: a second start-up finds nothing more to do
    transport = RecordingTransport()
    sender = DeliveryJob(store, [transport], notifications.settings)
    await sender.send_due()
    await sender.settle()
    assert sorted(d.id for d in transport.sent) == ["old-claimed", "old-pending"]
    statuses = {doc["_id"]: (doc["status"], "due_at" in doc) async for doc in store.deliveries.find({})}
    assert statuses == {"old-pending": ("sent", False), "old-claimed": ("sent", False), "old-sent": ("sent", False)}
