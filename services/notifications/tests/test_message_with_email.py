"""A notice's inbox message and its e-mail are one document (issue 11: one insert per notice
instead of two), which the inbox, the sending job and the admin share; documents the previous
version stored (the message and its `…:email` delivery apart) still show and still go out."""

from datetime import timedelta
from typing import Any

import pytest

from beli_contracts.catalog import StockLow
from beli_contracts.values import SellerContact
from beli_runtime.clock import utcnow
from notifications.api import delivery_view, message_view
from notifications.channels import SendFailed
from notifications.domain import for_stock_low
from notifications.main import NotificationsService
from notifications.sender import DeliveryJob
from notifications.store import Delivery

pytestmark = pytest.mark.infra  # the real database (no broker)

INA = "ina@umkm.example.id"
OWNER = {"recipient": INA}
SELLER = SellerContact(
    seller_id="slr-1",
    name="Tenun Ina",
    email=INA,
    phone="081234567890",
    regency="Sumba Timur",
    email_verified=True,
    phone_verified=True,
)


class Mailbox:
    """An SMTP server that answers 451 to the first `refuse` messages, then takes them."""

    channel = "email"
    timeout_seconds = 5.0

    def __init__(self, refuse: int = 0) -> None:
        self.tried: list[Delivery] = []
        self.refuse = refuse

    def configured(self) -> bool:
        return True

    async def send(self, delivery: Delivery) -> None:
        self.tried.append(delivery)
        if len(self.tried) <= self.refuse:
            raise SendFailed("451 try again later", temporary=True)

    async def close(self) -> None:
        pass


def sender_of(service: NotificationsService, mailbox: Mailbox, **settings_: Any) -> DeliveryJob:
    # Retries due at once and looks not spaced: the test drives the job step by step.
    settings = service.settings.model_copy(update={"send_retry_base_seconds": 0.0, "send_gather_seconds": 0.0} | settings_)
    return DeliveryJob(service.store, [mailbox], settings)


async def record_stock_low(service: NotificationsService, event_id: str) -> None:
    event = StockLow(product_id="prd-1", product_name="Madu hutan Timor 500 ml", seller=SELLER, stock=2, threshold=5)
    async with service.runtime.client.start_session() as session:
        await service.handlers.record(session, event_id, for_stock_low(event))


async def documents_of(service: NotificationsService, event_id: str) -> dict[str, dict[str, Any]]:
    return {doc["_id"]: doc async for doc in service.store.deliveries.find({"event_id": event_id})}


async def test_a_message_carries_its_email_through_the_inbox_a_retry_and_the_admin(notifications: NotificationsService) -> None:
    """Stock low for a seller on e-mail and WhatsApp: two documents (the message with its e-mail,
    the WhatsApp text). The inbox shows the message as before; reading it leaves the e-mail's
    sending alone; a refused e-mail is retried under the same id (its Message-ID); the admin
    lists the e-mail under the message's id."""
    store = notifications.store
    await record_stock_low(notifications, "evt-one")
    message = "evt-one:stock_low:ina@umkm.example.id"
    stored = await documents_of(notifications, "evt-one")
    assert sorted(stored) == [message, f"{message}:whatsapp"]
    assert (stored[message]["channel"], stored[message]["address"], stored[message]["read"]) == ("email", INA, False)

    [shown] = [message_view(doc) for doc in await store.inbox(OWNER, 50, unread_only=False)]
    assert (shown.id, shown.kind, shown.read) == (message, "stock_low", False) and "Madu hutan Timor" in shown.subject
    assert await store.unread_count(OWNER) == 1 and await store.unread_count({"phone": "+6281234567890"}) == 1
    assert await store.mark_read(OWNER, [message]) == 1 and await store.unread_count(OWNER) == 0

    mailbox = Mailbox(refuse=1)
    sender = sender_of(notifications, mailbox)
    for _ in range(2):  # refused once, then taken
        await sender.send_due()
        await sender.settle()
    assert [(d.id, d.attempts, d.subject) for d in mailbox.tried] == [(message, 1, shown.subject), (message, 2, shown.subject)]
    after = await store.deliveries.find_one({"_id": message})
    assert after is not None and (after["status"], after["attempts"], after["read"], "due_at" in after) == ("sent", 2, True, False)
    assert "451 try again later" in after["errors"][0]["error"]

    listed = {view.id: view for view in map(delivery_view, await store.list_deliveries({"recipient": INA}, 10))}
    assert {(view.channel, view.message_id) for view in listed.values()} == {("email", message), ("whatsapp", message)}
    assert listed[message].status == "sent" and [m.id for m in map(message_view, await store.inbox(OWNER, 50, False))] == [message]


async def test_a_failed_email_resent_by_an_admin_keeps_the_message_read(notifications: NotificationsService) -> None:
    """The e-mail gave up after its last attempt: the admin resends it by the message's id, with
    fresh attempts, and the message stays read."""
    store = notifications.store
    await record_stock_low(notifications, "evt-failed")
    message = "evt-failed:stock_low:ina@umkm.example.id"
    await store.mark_read(OWNER, None)
    sender = sender_of(notifications, Mailbox(refuse=99), send_max_attempts=1)
    await sender.send_due()
    await sender.settle()
    resent = await store.resend(message, by="admin")
    assert resent is not None and (resent["status"], resent["attempts"], resent["read"]) == ("pending", 0, True)
    assert [d.id for d in await store.due(["email"], utcnow(), 10)] == [message]


def previous_version(event_id: str, *, email: bool, last: str | None = None) -> list[dict[str, Any]]:
    """What the previous version stored for a stock-low notice: the message (`channel` inbox) and,
    apart, its e-mail delivery, due."""
    now = utcnow() - timedelta(seconds=1)
    message = f"{event_id}:stock_low:{INA}"
    head = {"_id": message, "event_id": event_id, "kind": "stock_low", "channel": "inbox", "recipient": INA, "email": INA}
    head |= {"phone": "+6281234567890", "order_id": None, "subject": "Stok menipis", "text": "Stok tinggal 2", "read": False}
    head |= {"created_at": now} | ({"event_last": last} if last else {})
    delivery = {"_id": f"{message}:email", "message_id": message, "event_id": event_id, "kind": "stock_low", "channel": "email"}
    delivery |= {"recipient": INA, "order_id": None, "status": "pending", "address": INA, "subject": "Stok menipis", "text": "Stok"}
    delivery |= {"html": None, "attempts": 0, "next_attempt_at": now, "due_at": now, "claimed_until": None, "errors": []}
    return [head, delivery] if email else [head]


async def test_what_the_previous_version_stored_still_shows_and_goes_out(notifications: NotificationsService) -> None:
    """Deployed over live data: a message and its e-mail stored apart show in the inbox (by e-mail
    and by phone) and in the admin's list as before, and the e-mail goes out under its own id."""
    store = notifications.store
    await store.deliveries.insert_many(previous_version("evt-old", email=True))
    await notifications.prepare()
    message = f"evt-old:stock_low:{INA}"
    assert [doc["_id"] for doc in await store.inbox({"phone": "+6281234567890"}, 50, unread_only=True)] == [message]
    assert [doc["_id"] for doc in await store.list_deliveries({"recipient": INA}, 10)] == [f"{message}:email"]
    mailbox = Mailbox()
    sender = sender_of(notifications, mailbox)
    await sender.send_due()
    await sender.settle()
    assert [d.id for d in mailbox.tried] == [f"{message}:email"]
    assert await store.mark_read(OWNER, None) == 1 and await store.unread_count(OWNER) == 0


async def test_a_write_the_previous_version_cut_short_after_the_email_sends_it_once(notifications: NotificationsService) -> None:
    """The previous version stored the message and its e-mail, and the database went away before
    the WhatsApp text: completing the event adds the text and no second e-mail."""
    store = notifications.store
    message = f"evt-half:stock_low:{INA}"
    await store.deliveries.insert_many(previous_version("evt-half", email=True, last=f"{message}:whatsapp"))
    await record_stock_low(notifications, "evt-half")
    stored = await documents_of(notifications, "evt-half")
    assert sorted(stored) == [message, f"{message}:email", f"{message}:whatsapp"] and stored[message]["channel"] == "inbox"
    due = await store.due(["email", "whatsapp"], utcnow() + timedelta(minutes=1), 10)
    assert sorted(d.id for d in due) == [f"{message}:email", f"{message}:whatsapp"]
