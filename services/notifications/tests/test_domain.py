"""Notifications rules without infrastructure: phone numbers, channel choice, retry policy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from beli_contracts.payments import PaymentReturned
from beli_contracts.values import Customer
from beli_runtime.clock import utcnow
from notifications.channels import EmailTransport, SendFailed
from notifications.domain import KINDS, channels_for, for_return, percent
from notifications.phones import InvalidPhone, to_e164
from notifications.sender import Batch, DeliveryJob, Outcomes
from notifications.settings import NotificationsSettings
from notifications.store import Delivery, Outcome


@pytest.mark.parametrize("raw", ["081234567890", "+62 812-3456-7890", "62 812 3456 7890", "(0812) 3456-7890"])
def test_indonesian_mobiles_become_e164(raw: str) -> None:
    assert to_e164(raw) == "+6281234567890"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no phone number"),
        ("12345", "not a valid number"),
        ("nomor saya", "cannot be read"),
        ("0380 821234", "not a mobile number"),  # a Kupang landline
    ],
)
def test_numbers_that_cannot_get_whatsapp_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        to_e164(raw)


def test_transactional_kinds_never_end_without_a_channel() -> None:
    receipt, stock = KINDS["payment_receipt"], KINDS["stock_low"]
    assert channels_for(receipt, []) == ["email"]
    assert channels_for(receipt, ["sms", "sms"]) == ["sms"]
    assert channels_for(stock, []) == []  # not transactional: the seller may mute it
    assert channels_for(stock, None) == ["email", "whatsapp"]


def test_a_returned_payment_reaches_the_addresses_the_shopper_proved() -> None:
    """It once lost the shopper's verified flags and so reached nobody."""
    customer = Customer(name="Maria", email="Maria@Example.id", phone="+6281234567890", email_verified=True, phone_verified=True)
    event = PaymentReturned(
        order_id="BNTT-1", customer=customer, gross_amount=300_000, refund_key="BNTT-1-return", reason="cancelled", returned_at=utcnow()
    )
    [notice] = for_return(event)
    assert (notice.recipient, notice.email_verified, notice.phone_verified) == ("maria@example.id", True, True)
    assert notice.context["gross"] == 300_000


def test_percent_is_written_the_indonesian_way() -> None:
    assert [percent(b) for b in (100, 150, 125, 5, 1000)] == ["1%", "1,5%", "1,25%", "0,05%", "10%"]


class FakeStore:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = {d["_id"]: d for d in docs}
        self.results: dict[str, tuple[str, Any]] = {}
        self.writes: list[int] = []
        self.write_seconds = 0.0

    async def due(self, channels: list[str], now: datetime, limit: int) -> list[Delivery]:
        due = [d for d in self.docs.values() if d["status"] == "pending" and d["channel"] in channels and d.get("due_at", now) <= now]
        return [Delivery.from_document(d) for d in due][:limit]

    async def claim(self, due: list[Delivery], now: datetime, holds: dict[str, float]) -> list[Delivery]:
        claimed = []
        for delivery in due:
            doc = self.docs[delivery.id]
            doc |= {"status": "sending", "attempts": doc["attempts"] + 1}
            claimed.append(Delivery.from_document(doc))
        return claimed

    async def record_outcomes(self, outcomes: list[Outcome]) -> None:
        self.writes.append(len(outcomes))
        await asyncio.sleep(self.write_seconds)
        for outcome in outcomes:
            if outcome.sent:
                self.docs[outcome.delivery]["status"] = "sent"
            else:
                self.docs[outcome.delivery] |= {"status": "pending" if outcome.retry_at else "failed", "due_at": outcome.retry_at}
                self.results[outcome.delivery] = (outcome.error, outcome.retry_at)

    async def skip_all(self, deliveries: list[str], reason: str) -> None:
        for delivery in deliveries:
            self.docs[delivery]["status"] = "skipped"


class FakeTransport:
    timeout_seconds = 0.2

    def __init__(self, behaviour: dict[str, Any], channel: str = "whatsapp") -> None:
        self.behaviour = behaviour
        self.channel = channel

    def configured(self) -> bool:
        return True

    async def send(self, delivery: Delivery) -> str:
        what = self.behaviour[delivery.id]
        if what == "slow":
            await asyncio.sleep(5)
        if isinstance(what, SendFailed):
            raise what
        return "ok"

    async def close(self) -> None:
        pass


async def test_one_batch_sends_retries_gives_up_and_times_out_independently() -> None:
    docs = [
        {"_id": name, "channel": "whatsapp", "status": "pending", "attempts": attempts, "address": "+6281234567890", "text": "Halo"}
        for name, attempts in (("ok", 0), ("flaky", 0), ("bad", 0), ("last", 3), ("slow", 0))
    ]
    store = FakeStore(docs)
    transport = FakeTransport(
        {
            "ok": "fine",
            "flaky": SendFailed("HTTP 503", temporary=True),
            "bad": SendFailed("HTTP 400", temporary=False),
            "last": SendFailed("HTTP 503", temporary=True),
            "slow": "slow",
        }
    )
    settings = NotificationsSettings(send_max_attempts=4, send_retry_base_seconds=1.0, send_gather_seconds=0)
    started = utcnow()
    job = DeliveryJob(store, [transport], settings)  # type: ignore[arg-type, list-item]
    # Fewer than a batch were due: that was everything, so the job need not look again at once.
    assert await job.send_due() is False
    await job.settle()
    assert (utcnow() - started) < timedelta(seconds=2)  # the slow one cost its timeout, no more
    assert {name: d["status"] for name, d in store.docs.items()} == {
        "ok": "sent",
        "flaky": "pending",
        "bad": "failed",
        "last": "failed",
        "slow": "pending",
    }
    error, retry_at = store.results["flaky"]
    assert "503" in error and timedelta(seconds=0.5) < retry_at - started < timedelta(seconds=2)
    assert "no answer within" in store.results["slow"][0]


async def test_outcomes_that_finish_during_a_write_share_the_next_one() -> None:
    store = FakeStore([{"_id": f"d{n}", "channel": "email", "status": "sending", "attempts": 1} for n in range(5)])
    store.write_seconds = 0.05
    outcomes = Outcomes(store)  # type: ignore[arg-type]
    await asyncio.gather(*(outcomes.record([Outcome(f"d{n}", sent=True)]) for n in range(5)))
    assert store.writes == [1, 4]  # the first alone (nothing was in flight), the rest together
    assert {d["status"] for d in store.docs.values()} == {"sent"}


async def test_sends_claimed_together_write_their_outcomes_together_unless_one_is_slow() -> None:
    store = FakeStore([{"_id": f"d{n}", "channel": "email", "status": "sending", "attempts": 1} for n in range(4)])
    outcomes = Outcomes(store)  # type: ignore[arg-type]
    together = Batch(outcomes, 3)
    await asyncio.gather(*(together.record(Outcome(f"d{n}", sent=True)) for n in range(3)))
    assert store.writes == [3]
    slow = Batch(outcomes, 2)  # the second send of this batch never ends in time
    started = utcnow()
    await slow.record(Outcome("d3", sent=True))
    assert store.writes == [3, 1] and utcnow() - started < timedelta(seconds=1)


async def test_a_channel_at_its_bound_holds_neither_the_job_nor_the_other_channels() -> None:
    def pending(name: str, channel: str) -> dict[str, Any]:
        return {"_id": name, "channel": channel, "status": "pending", "attempts": 0, "address": "x", "text": "Halo"}

    store = FakeStore([pending("wa-slow", "whatsapp")])
    whatsapp = FakeTransport({"wa-slow": "slow", "wa-next": "fine"})
    whatsapp.timeout_seconds = 1.0
    email = FakeTransport({"mail": "fine"}, channel="email")
    job = DeliveryJob(store, [whatsapp, email], NotificationsSettings(send_concurrency=1, send_gather_seconds=0))  # type: ignore[list-item]
    woken = asyncio.Event()
    job.wake = woken.set
    await job.send_due()  # returns with the slow send in flight
    store.docs |= {"wa-next": pending("wa-next", "whatsapp"), "mail": pending("mail", "email")}
    await job.send_due()
    await asyncio.sleep(0.1)
    assert store.docs["mail"]["status"] == "sent" and store.docs["wa-next"]["status"] == "pending"
    await asyncio.wait_for(woken.wait(), timeout=3)  # the slow send ended: room on WhatsApp again
    await job.send_due()
    await job.settle()
    assert store.docs["wa-next"]["status"] == "sent" and store.docs["wa-slow"]["status"] == "pending"


async def test_looks_for_due_messages_are_spaced_so_that_events_share_them() -> None:
    store = FakeStore([])
    job = DeliveryJob(store, [FakeTransport({})], NotificationsSettings(send_gather_seconds=0.3))  # type: ignore[list-item]
    started = time.monotonic()
    for _ in range(3):
        await job.send_due()
    assert 0.55 < time.monotonic() - started < 2  # the first at once, then 0.3 s apart


async def test_a_slow_outcome_write_does_not_hold_its_channel_for_the_next_message() -> None:
    """The bound is on sends to the provider: once WhatsApp answered, the next message goes out
    while the first's outcome is still being written (a payday rush's database is slow)."""

    def pending(name: str) -> dict[str, Any]:
        return {"_id": name, "channel": "whatsapp", "status": "pending", "attempts": 0, "address": "x", "text": "Halo"}

    store = FakeStore([pending("first")])
    store.write_seconds = 2.0
    sent: list[str] = []
    whatsapp = FakeTransport({"first": "fine", "second": "fine"})
    send = whatsapp.send

    async def recording(delivery: Delivery) -> str:
        sent.append(delivery.id)
        return await send(delivery)

    whatsapp.send = recording  # type: ignore[method-assign]
    job = DeliveryJob(store, [whatsapp], NotificationsSettings(send_concurrency=1, send_gather_seconds=0))  # type: ignore[list-item]
    woken = asyncio.Event()
    job.wake = woken.set
    await job.send_due()
    store.docs["second"] = pending("second")
    await asyncio.wait_for(_until(lambda: store.writes == [1]), timeout=1)  # the first's outcome write has begun
    await job.send_due()
    await asyncio.wait_for(_until(lambda: sent == ["first", "second"]), timeout=1)
    assert store.docs["first"]["status"] == "sending"  # its outcome write is still on its way
    await job.settle()
    assert store.docs["first"]["status"] == store.docs["second"]["status"] == "sent"


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_an_e_mail_is_multipart_with_the_delivery_id_and_a_stable_message_id() -> None:
    transport = EmailTransport(NotificationsSettings(smtp_host="mail.local"))
    delivery = Delivery(
        "evt:payment_receipt:ina@umkm.example.id:email",
        "email",
        "sending",
        1,
        "ina@umkm.example.id",
        "Teks",
        "Bukti bayar — BNTT-1",
        "<p>HTML</p>",
    )

    email = transport.build(delivery)

    assert email.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in email.get_payload()] == ["text/plain", "text/html"]
    assert email["X-Beli-Delivery-Id"] == delivery.id
    assert email["Message-ID"] == transport.build(delivery)["Message-ID"]  # a retry is the same message
    assert b"Subject: =?utf-8?" in email.as_bytes()  # the dash is not ASCII: an encoded word


@pytest.mark.parametrize("field", ["address", "subject"])
def test_a_header_value_with_a_line_break_is_refused_for_good(field: str) -> None:
    """compat32 writes a header's line break as it is: 'hi\\n\\nbody' would end the headers."""
    transport = EmailTransport(NotificationsSettings(smtp_host="mail.local"))
    fields: dict[str, Any] = {"address": "ina@umkm.example.id", "subject": "Pesanan"}
    fields[field] += "\n\nBcc: semua@example.id"
    delivery = Delivery("evt:k:ina:email", "email", "sending", 1, fields["address"], "Teks", fields["subject"])

    with pytest.raises(SendFailed) as refused:
        transport.build(delivery)
    assert refused.value.temporary is False
