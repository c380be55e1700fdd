"""Notifications rules without infrastructure: phone numbers, channel choice, retry policy."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from beli_contracts.payments import PaymentReturned
from beli_contracts.values import Customer
from beli_runtime.clock import utcnow
from notifications.channels import SendFailed
from notifications.domain import KINDS, channels_for, for_return, percent
from notifications.phones import InvalidPhone, to_e164
from notifications.sender import DeliveryJob
from notifications.settings import NotificationsSettings
from notifications.store import Delivery


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

    async def due(self, channel: str, now: datetime, limit: int) -> list[Delivery]:
        return [Delivery.from_document(d) for d in self.docs.values() if d["status"] == "pending"][:limit]

    async def claim(self, delivery: Delivery, now: datetime, hold: float) -> Delivery:
        doc = self.docs[delivery.id]
        doc |= {"status": "sending", "attempts": doc["attempts"] + 1}
        return Delivery.from_document(doc)

    async def mark_sent(self, delivery: str, provider_id: str | None) -> None:
        self.docs[delivery]["status"] = "sent"

    async def mark_failed_attempt(self, delivery: str, error: str, retry_at: datetime | None) -> None:
        self.docs[delivery]["status"] = "pending" if retry_at else "failed"
        self.results[delivery] = (error, retry_at)

    async def mark_skipped(self, delivery: str, reason: str) -> None:
        self.docs[delivery]["status"] = "skipped"


class FakeTransport:
    channel = "whatsapp"
    timeout_seconds = 0.2

    def __init__(self, behaviour: dict[str, Any]) -> None:
        self.behaviour = behaviour

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
    settings = NotificationsSettings(send_max_attempts=4, send_retry_base_seconds=1.0)
    started = utcnow()
    assert await DeliveryJob(store, transport, settings).send_due()  # type: ignore[arg-type]
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
