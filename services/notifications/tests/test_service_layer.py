"""The notifications sending job on the real database without Kafka or a provider: the store
comes from the composition root (`build_service`), the transport records what it was given."""

import asyncio
from datetime import timedelta

import pytest

from beli_contracts.catalog import StockLow
from beli_contracts.values import SellerContact
from beli_runtime.clock import utcnow
from notifications.domain import Notice, for_stock_low
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


async def test_a_due_message_is_sent_once_even_by_two_senders(notifications: NotificationsService) -> None:
    store = notifications.store
    doc = {"_id": "evt-1:order_paid:asn@example.id:whatsapp", "channel": "whatsapp", "status": "pending"}
    doc |= {"recipient": "asn@example.id", "address": "+6281234567890", "text": "Pembayaran pesanan Anda sudah kami terima."}
    await notifications.runtime.write(lambda session: store.add_notices(session, [doc]))

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
    found = store.deliveries.find({"_id": {"$in": ["old-pending", "old-claimed", "old-sent"]}})
    statuses = {doc["_id"]: (doc["status"], "due_at" in doc) async for doc in found}
    assert statuses == {"old-pending": ("sent", False), "old-claimed": ("sent", False), "old-sent": ("sent", False)}


async def test_inbox_messages_stored_apart_join_their_deliveries_with_their_read_marks(notifications: NotificationsService) -> None:
    """Messages written by the previous version (collection `messages`) are moved at start-up:
    the inbox shows them under the same ids with their read marks, the admin's delivery list does
    not, and a second start-up changes nothing."""
    store = notifications.store
    now = utcnow()
    message = {"kind": "payment_receipt", "recipient": "asn@example.id", "phone": "+6281234567890", "order_id": "BNTT-1"}
    message |= {"email": "asn@example.id", "subject": "Pembayaran diterima", "text": "Terima kasih", "created_at": now}
    await store.legacy_messages.insert_many(
        [
            message | {"_id": "evt-1:payment_receipt:asn@example.id", "read": True},
            message | {"_id": "evt-2:payment_link:asn@example.id", "read": False},
        ]
    )
    delivery = {"_id": "evt-1:payment_receipt:asn@example.id:email", "channel": "email", "status": "sent", "recipient": "asn@example.id"}
    await store.deliveries.insert_one(delivery | {"attempts": 1, "created_at": now})
    await notifications.prepare()
    await notifications.prepare()

    owner = {"recipient": "asn@example.id"}
    inbox = {doc["_id"]: doc["read"] for doc in await store.inbox(owner, 50, unread_only=False)}
    assert inbox == {"evt-1:payment_receipt:asn@example.id": True, "evt-2:payment_link:asn@example.id": False}
    assert await store.unread_count(owner) == 1 and await store.unread_count({"phone": "+6281234567890"}) == 1
    assert [doc["_id"] for doc in await store.list_deliveries({}, 10)] == [delivery["_id"]]
    assert await store.list_deliveries({"channel": "inbox"}, 10) == []
    assert await store.legacy_messages.count_documents({}) == 0


SELLER = SellerContact(
    seller_id="slr-1",
    name="Tenun Ina",
    email="ina@umkm.example.id",
    phone="081234567890",
    regency="Sumba Timur",
    email_verified=True,
    phone_verified=True,
)


def stock_low_for(seller: SellerContact, event_id: str) -> tuple[str, list[Notice]]:
    event = StockLow(product_id="prd-1", product_name="Madu hutan Timor 500 ml", seller=seller, stock=2, threshold=5)
    return event_id, for_stock_low(event)


async def channels_of(service: NotificationsService, event_id: str) -> set[str]:
    found = service.store.deliveries.find({"event_id": event_id, "channel": {"$ne": "inbox"}})
    return {doc["channel"] async for doc in found}


async def test_preferences_saved_on_one_instance_are_followed_by_the_other(service_database: ServiceDatabase) -> None:
    """Two instances: each knows who saved preferences without a look-up per event. Preferences
    saved through one are followed by the very next event the other writes."""
    settings = NotificationsSettings(**service_database.settings())
    one, other = build_service(settings), build_service(settings)
    seller = SELLER
    async with ready(one), ready(other):
        async with other.runtime.client.start_session() as session:
            await other.handlers.record(session, *stock_low_for(seller, "evt-before"))
            await one.saved.save("ina@umkm.example.id", {"stock_low": ["sms"]})
            await other.handlers.record(session, *stock_low_for(seller, "evt-after"))
            await other.handlers.record(session, *stock_low_for(seller, "evt-before"))  # delivered again: nothing changes
        assert await channels_of(other, "evt-before") == {"email", "whatsapp"}
        assert await channels_of(other, "evt-after") == {"sms"}
        inbox = await other.store.inbox({"recipient": "ina@umkm.example.id"}, 10, unread_only=False)
        assert sorted(doc["event_id"] for doc in inbox) == ["evt-after", "evt-before"]


async def test_an_event_whose_write_was_cut_short_is_completed_by_its_next_delivery(notifications: NotificationsService) -> None:
    """The database went away after the event's first document: the next delivery of the event
    writes the rest instead of taking the event for one already seen. So it does for a write an
    earlier version cut short (it marked the first document `event_written` at the end)."""
    store = notifications.store
    for event, mark in (
        ("evt-cut", {"event_last": "evt-cut:stock_low:ina@umkm.example.id:whatsapp"}),
        ("evt-old", {"event_written": False}),
    ):
        head = f"{event}:stock_low:ina@umkm.example.id"
        await store.deliveries.insert_one({"_id": head, "channel": "inbox", "recipient": "ina@umkm.example.id"} | mark)
        async with notifications.runtime.client.start_session() as session:
            await notifications.handlers.record(session, *stock_low_for(SELLER, event))
            await notifications.handlers.record(session, *stock_low_for(SELLER, event))  # again: seen
        assert await channels_of(notifications, event) == {"email", "whatsapp"}
        stored = await store.deliveries.find_one({"_id": head})
        assert stored is not None and "event_written" not in stored and stored["event_last"] == f"{head}:whatsapp"


async def test_an_event_seen_before_writes_nothing_again(notifications: NotificationsService) -> None:
    """A redelivered event changes none of its documents, even one a sender has since claimed,
    and its e-mail is still due once (the write is one per document, none more: issue 11). The
    message carries its e-mail: two documents, not three."""
    store = notifications.store
    async with notifications.runtime.client.start_session() as session:
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-twice"))
        before = {doc["_id"]: doc async for doc in store.deliveries.find({"event_id": "evt-twice"})}
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-twice"))
    after = {doc["_id"]: doc async for doc in store.deliveries.find({"event_id": "evt-twice"})}
    message = "evt-twice:stock_low:ina@umkm.example.id"
    assert after == before and sorted(after) == [message, f"{message}:whatsapp"]  # the message with its e-mail, WhatsApp
    due = await store.due(["email", "whatsapp"], utcnow(), 10)
    ours = sorted((d.id, d.channel) for d in due if d.id.startswith("evt-twice"))
    assert ours == [(message, "email"), (f"{message}:whatsapp", "whatsapp")]


async def test_indexes_no_query_uses_are_dropped_at_start_up(service_database: ServiceDatabase) -> None:
    """A database from before: the sending job's old index on channel, status and next attempt
    is gone after start-up (every write of a delivery paid for it), and a second start is fine."""
    settings = NotificationsSettings(**service_database.settings())
    service = build_service(settings)
    deliveries = service.store.deliveries
    await deliveries.create_index([("channel", 1), ("status", 1), ("next_attempt_at", 1)])
    async with ready(service):
        await service.prepare()  # idempotent: the index is already gone
        names = set(await deliveries.index_information())
    assert "channel_1_status_1_next_attempt_at_1" not in names
    assert {"due_at_1", "recipient_1_read_1", "recipient_1_created_at_-1", "status_1_created_at_-1"} <= names


class HeldTransport(RecordingTransport):
    """A provider whose sends wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def send(self, delivery: Delivery) -> str:
        await self.go.wait()
        return await super().send(delivery)


async def deliveries_of(service: NotificationsService, event_id: str) -> dict[str, dict[str, object]]:
    return {doc["channel"]: doc async for doc in service.store.deliveries.find({"event_id": event_id})}


async def test_an_events_messages_leave_from_its_own_write_without_the_sending_jobs_look(notifications: NotificationsService) -> None:
    """The instance that consumes an event sends its messages as soon as the event's write stored
    them, claimed by that write (issue 11: no look and no claim of the sending job, one write of
    the delivery fewer). The WhatsApp text goes out as attempt 1 and is marked sent; the e-mail, a
    channel this sender has no transport for, stays due and wakes the job; a redelivered event
    sends nothing again."""
    transport = RecordingTransport()
    sender = DeliveryJob(notifications.store, [transport], notifications.settings)
    wakes: list[str] = []
    sender.wake = lambda: wakes.append("woken")
    notifications.handlers.sender = sender
    async with notifications.runtime.client.start_session() as session:
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-direct"))
        await sender.settle()
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-direct"))  # seen: nothing is sent again
    await sender.settle()

    [sent] = transport.sent
    assert (sent.id, sent.attempts, sent.address) == ("evt-direct:stock_low:ina@umkm.example.id:whatsapp", 1, "+6281234567890")
    stored = await deliveries_of(notifications, "evt-direct")
    assert (stored["whatsapp"]["status"], stored["whatsapp"]["provider_id"], "due_at" in stored["whatsapp"]) == ("sent", "wa-1", False)
    assert stored["email"]["status"] == "pending" and stored["email"]["attempts"] == 0 and wakes
    assert sender.in_flight["whatsapp"] == 0


async def test_a_channel_at_its_bound_leaves_the_events_messages_to_the_sending_job(notifications: NotificationsService) -> None:
    """Each channel's bound of sends in flight holds for messages sent from an event's write too: with
    the one place taken by a slow send, the next event's text is stored due, and the job sends it
    once the slow one ends (its end wakes the job)."""
    transport = HeldTransport()
    settings = notifications.settings.model_copy(update={"send_concurrency": 1})
    sender = DeliveryJob(notifications.store, [transport], settings)
    wakes: list[str] = []
    sender.wake = lambda: wakes.append("woken")
    notifications.handlers.sender = sender
    async with notifications.runtime.client.start_session() as session:
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-first"))
        await notifications.handlers.record(session, *stock_low_for(SELLER, "evt-second"))
    waiting = await deliveries_of(notifications, "evt-second")
    assert (waiting["whatsapp"]["status"], waiting["whatsapp"]["attempts"]) == ("pending", 0)

    wakes.clear()
    transport.go.set()
    await sender.settle()
    assert wakes  # the slow send's end freed the channel that had left a message due
    await sender.send_due()
    await sender.settle()
    assert [(d.id.split(":")[0], d.attempts) for d in transport.sent] == [("evt-first", 1), ("evt-second", 1)]
    assert {(await deliveries_of(notifications, event))["whatsapp"]["status"] for event in ("evt-first", "evt-second")} == {"sent"}
