"""The notifications sending job on the real database without Kafka or a provider: the store
comes from the composition root (`build_service`), the transport records what it was given."""

import asyncio
from collections.abc import AsyncIterator

import pytest

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
    await notifications.runtime.write(lambda session: store.add_delivery(session, doc))

    transport = RecordingTransport()
    settings = notifications.settings
    senders = [DeliveryJob(store, transport, settings), DeliveryJob(store, transport, settings)]
    await asyncio.gather(*(sender.send_due() for sender in senders))

    [sent] = transport.sent
    assert (sent.id, sent.address, sent.attempts) == (doc["_id"], "+6281234567890", 1)
    assert sent.text == "Pembayaran pesanan Anda sudah kami terima."
    stored = await store.deliveries.find_one({"_id": doc["_id"]})
    assert stored is not None and stored["status"] == "sent" and stored["provider_id"] == "wa-1"
    assert await senders[0].send_due() is False  # nothing is due any more
