"""Notifications end to end on real Kafka, the database, the SMTP mailbox and the WhatsApp/SMS
provider simulator: every message of issue #6 arrives with the right text on the right channels,
exactly once, through redelivery, provider outages and preferences.

Events whose producers do not exist yet (shipped, completed, stock low, levy rule changed) are
published to Kafka here through a real producer, in the contract's envelope."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from beli_contracts import Envelope, EventPayload
from beli_contracts.catalog import StockLow
from beli_contracts.orders import OrderCompleted, OrderShipped
from beli_contracts.payments import LevyRuleChanged, LevyRuleTerms
from beli_contracts.values import Customer, SellerContact
from infra.apps import start_app
from infra.tokens import mint
from tests.support import SUBSCRIPTIONS, Api, System, consumed_to_end, eventually

FINANCE = ("bapenda@nttprov.example.id", "keuangan@nttprov.example.id")  # FINANCE_EMAILS in infra/apps.py


class Bus:
    """Publishes contract events to Kafka the way a service's outbox relay does."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def publish(self, payload: EventPayload, key: str) -> Envelope:
        envelope = Envelope.wrap(payload, key=key, source="tests")
        await self.send(envelope)
        return envelope

    async def send(self, envelope: Envelope) -> None:
        await self.producer.send_and_wait(envelope.topic, envelope.to_bytes(), key=envelope.key.encode())


class Outside:
    """What reached people: the simulator's mailbox and provider, and the service's own views."""

    def __init__(self, messaging: httpx.AsyncClient, notifications: httpx.AsyncClient) -> None:
        self.messaging = messaging
        self.notifications = notifications

    async def mail(self, to: str) -> list[dict[str, Any]]:
        return (await self.messaging.get("/mail", params={"to": to})).raise_for_status().json()

    async def texts(self, to: str, channel: str | None = None) -> list[dict[str, Any]]:
        params = {"to": to} | ({"channel": channel} if channel else {})
        return (await self.messaging.get("/v1/messages", params=params)).raise_for_status().json()

    async def requests(self, to: str) -> list[dict[str, Any]]:
        return (await self.messaging.get("/simulator/requests", params={"to": to})).raise_for_status().json()

    async def fault(self, **fault: Any) -> None:
        (await self.messaging.post("/simulator/faults", json=fault)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.messaging.delete("/simulator/faults")).raise_for_status()

    async def deliveries(self, **query: str) -> list[dict[str, Any]]:
        response = await self.notifications.get("/admin/notifications/deliveries", params=query)
        return response.raise_for_status().json()

    async def delivery(self, recipient: str, channel: str, kind: str) -> dict[str, Any] | None:
        found = [d for d in await self.deliveries(recipient=recipient, channel=channel) if d["kind"] == kind]
        return found[0] if found else None

    async def inbox(self, recipient: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.notifications.get("/notifications", params={"recipient": recipient} | params)
        return response.raise_for_status().json()

    async def mail_arrives(self, to: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        return await eventually(lambda: self.mail(to), lambda m: len(m) >= count, timeout=timeout, what=f"mail to {to}")

    async def text_arrives(self, to: str, channel: str = "whatsapp", timeout: float = 20) -> list[dict[str, Any]]:
        return await eventually(lambda: self.texts(to, channel), lambda m: len(m) >= 1, timeout=timeout, what=f"{channel} to {to}")


# A delivery in one of these states will not send again by itself.
SETTLED_DELIVERIES = {"sent", "failed", "rejected", "skipped"}


async def all_done(system: System, outside: Outside, recipient: str) -> None:
    """The marker that replaces a pause before "nothing more was sent": notifications has
    consumed every topic it reads to the end (so every delivery it will plan is recorded: intents
    are written with the consumption), and none of the recipient's deliveries is still in flight."""
    await consumed_to_end(system.endpoints.kafka_bootstrap, "notifications", *SUBSCRIPTIONS["notifications"])
    await eventually(
        lambda: outside.deliveries(recipient=recipient),
        lambda found: all(d["status"] in SETTLED_DELIVERIES for d in found),
        what=f"deliveries to {recipient} to finish",
    )


@pytest.fixture(scope="module")
async def bus(system: System) -> AsyncIterator[Bus]:
    producer = AIOKafkaProducer(bootstrap_servers=system.endpoints.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        yield Bus(producer)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def outside(system: System) -> AsyncIterator[Outside]:
    # The harness reads other people's inboxes and the delivery admin as an operator would.
    operator = {"Authorization": f"Bearer {mint('admin', email='operator@beli-ntt.id', minutes=60)}"}
    async with (
        httpx.AsyncClient(base_url=system.profile.service_url("messaging"), timeout=30) as messaging,
        httpx.AsyncClient(base_url=system.profile.service_url("notifications"), timeout=30, headers=operator) as notifications,
    ):
        yield Outside(messaging, notifications)


def mobile() -> str:
    return f"0812{random.randint(0, 10**8 - 1):08d}"


def e164(local: str) -> str:
    return "+62" + local.removeprefix("0")


def seller(phone: str | None = None, name: str = "Kelompok Tenun Lambu Mbojo") -> SellerContact:
    tag = uuid.uuid4().hex[:8]
    # A seller whose contact is its account's verified e-mail and phone, as sign-up makes it.
    return SellerContact(
        seller_id=f"slr-{tag}",
        name=name,
        email=f"seller-{tag}@umkm.example.id",
        phone=phone or mobile(),
        regency="Sumba Timur",
        email_verified=True,
        phone_verified=True,
    )


def stock_low(owner: SellerContact, stock: int = 2) -> StockLow:
    return StockLow(
        product_id=f"prd-{uuid.uuid4().hex[:8]}", product_name="Madu hutan Timor 500 ml", seller=owner, stock=stock, threshold=5
    )


async def test_checkout_sends_payment_link_receipt_and_seller_orders_on_every_channel(api: Api, outside: Outside) -> None:
    tenun_seller = await api.seller("Sumba Timur")
    tenun = await api.product(tenun_seller, price=750_000, stock=5, category="tenun", name="Kain tenun ikat Sumba")
    shopper = api.shopper()
    order_id = (await api.place([(tenun["id"], 2)], customer=shopper)).json()["id"]
    order = await api.payable(order_id)

    link_mail = (await outside.mail_arrives(shopper["email"]))[0]
    assert link_mail["subject"].startswith(f"Pesanan {order_id}: bayar Rp1.500.000 sebelum")
    assert "WITA" in link_mail["subject"] and order["payment"]["redirect_url"] in link_mail["text"]
    assert "QRIS" in link_mail["text"] and "Bayar sekarang" in link_mail["html"]
    link_wa = (await outside.text_arrives(e164(shopper["phone"])))[0]
    assert order["payment"]["redirect_url"] in link_wa["text"] and "*Rp1.500.000*" in link_wa["text"]

    await api.pay(order_id, "settlement")
    mails = await outside.mail_arrives(shopper["email"], count=2)
    receipt = next(m for m in mails if m["subject"].startswith("Pembayaran diterima"))
    assert "Total dibayar: Rp1.500.000" in receipt["text"] and "kontribusi PAD Provinsi NTT: Rp15.000" in receipt["text"]
    # The seller's mailbox also holds the sign-up code: wait for the order's own mail.
    seller_mails = await eventually(
        lambda: outside.mail(tenun_seller["email"]),
        lambda m: any(x["subject"].startswith("Pesanan baru sudah dibayar") for x in m),
        what="the seller's new paid order mail",
    )
    seller_mail = next(m for m in seller_mails if m["subject"].startswith("Pesanan baru sudah dibayar"))
    assert "Yang akan Anda terima: Rp1.485.000" in seller_mail["text"] and shopper["name"] in seller_mail["text"]
    seller_wa = (await outside.text_arrives(e164(tenun_seller["phone"])))[0]
    assert "*Rp1.485.000*" in seller_wa["text"]
    inbox = await outside.inbox(shopper["email"])
    assert [m["kind"] for m in inbox] == ["payment_receipt", "payment_link"]


async def test_failed_payment_tells_the_shopper_stock_was_released(api: Api, outside: Outside) -> None:
    product = await api.product(await api.seller("Ende"), price=45_000, stock=3, category="pangan", name="Jagung bose")
    shopper = api.shopper()
    order_id = (await api.place([(product["id"], 1)], customer=shopper)).json()["id"]
    await api.payable(order_id)
    await api.pay(order_id, "deny")
    mails = await outside.mail_arrives(shopper["email"], count=2)
    cancelled = next(m for m in mails if m["subject"] == f"Pesanan {order_id} dibatalkan")
    assert "pembayaran gagal atau ditolak" in cancelled["text"] and "Stok produk" in cancelled["text"]
    texts = await eventually(lambda: outside.texts(e164(shopper["phone"])), lambda t: len(t) == 2, what="2 WhatsApp")
    assert "dibatalkan" in texts[0]["text"]


@pytest.fixture(scope="module")
async def finance_staff(api: Api, outside: Outside) -> None:
    """FINANCE_EMAILS reach staff accounts only: an admin creates one for each address."""
    for address in FINANCE:
        created = await api.catalog.post(
            "/auth/staff",
            json={"role": "finance", "name": "Bapenda NTT", "email": address, "phone": "081237009001", "password": "kas-daerah-ntt-2026"},
        )
        assert created.status_code in (201, 409), created.text
    await eventually(
        lambda: outside.notifications.get("/admin/notifications/finance-recipients"),
        lambda r: r.status_code == 200 and all(entry["staff_account"] for entry in r.json()),
        what="finance addresses known as staff accounts",
    )


async def test_shipped_completed_stock_low_and_levy_rule_reach_their_people(bus: Bus, outside: Outside, finance_staff: None) -> None:
    now = datetime.now(UTC)
    shopper = Customer(
        name="Yohanes Ndun",
        email=f"asn-{uuid.uuid4().hex[:8]}@nttprov.example.id",
        phone=mobile(),
        email_verified=True,
        phone_verified=True,
    )
    owner = seller()
    order_id = f"BNTT-{uuid.uuid4().hex[:16].upper()}"
    await bus.publish(
        OrderShipped(
            order_id=order_id, seller_id=owner.seller_id, customer=shopper, courier="JNE", tracking_number="JNE0099887766", shipped_at=now
        ),
        key=order_id,
    )
    await bus.publish(
        OrderCompleted(order_id=order_id, seller=owner, gross=1_500_000, levy=15_000, seller_payable=1_485_000, completed_at=now),
        key=order_id,
    )
    await bus.publish(stock_low(owner), key="prd")
    rule = LevyRuleTerms(
        rule_id=f"rule-{uuid.uuid4().hex[:6]}",
        version=2,
        rate_bps=150,
        category="kopi",
        regency="Ngada",
        effective_from=now + timedelta(days=1),
    )
    await bus.publish(
        LevyRuleChanged(
            current=rule,
            previous=rule.model_copy(update={"version": 1, "rate_bps": 100}),
            reason="Penyesuaian Perda",
            changed_by="operator-1",
        ),
        key=rule.rule_id,
    )

    shipped = (await outside.mail_arrives(shopper.email))[0]
    assert "Kurir: JNE" in shipped["text"] and "Nomor resi: JNE0099887766" in shipped["text"]
    assert "JNE0099887766" in (await outside.text_arrives(e164(shopper.phone)))[0]["text"]
    seller_mail = await outside.mail_arrives(owner.email, count=2)
    payout = next(m for m in seller_mail if "selesai" in m["subject"])
    assert "penjualan Rp1.500.000 | kontribusi PAD Rp15.000 | dibayarkan ke Anda Rp1.485.000" in payout["text"]
    low = next(m for m in seller_mail if m["subject"].startswith("Stok menipis"))
    assert "Madu hutan Timor 500 ml" in low["text"] and "Sisa stok: 2" in low["text"]
    assert "tinggal *2*" in (await outside.text_arrives(e164(owner.phone)))[0]["text"]
    for address in FINANCE:
        # The finance mailboxes also get every other test's rule changes: wait for this one.
        mails = await eventually(
            lambda a=address: outside.mail(a), lambda ms: any(rule.rule_id in m["subject"] for m in ms), what=f"levy rule mail to {address}"
        )
        levy = next(m for m in mails if rule.rule_id in m["subject"])
        assert "Tarif: 1,5% (150 bps)" in levy["text"] and "Tarif: 1% (100 bps)" in levy["text"]
    assert {m["kind"] for m in await outside.inbox(owner.email)} == {"seller_payout", "stock_low"}


async def test_redelivered_events_send_nothing_more(system: System, bus: Bus, outside: Outside) -> None:
    owner = seller()
    envelope = await bus.publish(stock_low(owner), key="prd")
    await outside.mail_arrives(owner.email)
    await outside.text_arrives(e164(owner.phone))
    for _ in range(3):
        await bus.send(envelope)  # same event id: what a replay or a relay retry produces
    marker = seller()
    await bus.publish(stock_low(marker), key="prd")  # published after the copies: once it is in, they were read
    await outside.mail_arrives(marker.email)
    await all_done(system, outside, owner.email)
    assert len(await outside.mail(owner.email)) == 1
    assert len(await outside.texts(e164(owner.phone))) == 1
    assert len(await outside.inbox(owner.email)) == 1
    assert len(await outside.deliveries(recipient=owner.email)) == 2


async def test_provider_down_retries_and_delivers_when_it_returns(bus: Bus, outside: Outside) -> None:
    owner = seller()
    phone = e164(owner.phone)
    await outside.fault(target="http", status=503, count=2, to=phone)
    await bus.publish(stock_low(owner), key="prd")
    await outside.mail_arrives(owner.email)  # e-mail is not held up by WhatsApp's trouble
    await outside.text_arrives(phone)
    delivery = await eventually(
        lambda: outside.delivery(owner.email, "whatsapp", "stock_low"),
        lambda d: d is not None and d["status"] == "sent",
        what="whatsapp sent",
    )
    assert delivery["attempts"] == 3 and len(delivery["errors"]) == 2 and "HTTP 503" in delivery["errors"][0]["error"]
    assert len(await outside.requests(phone)) == 3 and len(await outside.texts(phone)) == 1


async def test_after_the_last_attempt_a_delivery_is_failed_until_an_admin_resends_it(bus: Bus, outside: Outside) -> None:
    owner = seller()
    phone = e164(owner.phone)
    await outside.fault(target="http", status=502, to=phone)  # down until cleared
    await outside.fault(target="smtp", status=451, count=1, to=owner.email)
    await bus.publish(stock_low(owner), key="prd")
    failed = await eventually(
        lambda: outside.delivery(owner.email, "whatsapp", "stock_low"),
        lambda d: d is not None and d["status"] == "failed",
        what="whatsapp failed",
    )
    assert failed["attempts"] == 4  # SEND_MAX_ATTEMPTS in infra/apps.py
    assert failed["id"] in {d["id"] for d in await outside.deliveries(status="failed")}
    assert len(await outside.mail_arrives(owner.email)) == 1  # its 451 was retried

    await outside.clear_faults()
    resent = await outside.notifications.post(f"/admin/notifications/deliveries/{failed['id']}/resend")
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    await outside.text_arrives(phone)
    again = await outside.notifications.post(f"/admin/notifications/deliveries/{failed['id']}/resend")
    assert again.status_code in (200, 409)
    await eventually(
        lambda: outside.delivery(owner.email, "whatsapp", "stock_low"), lambda d: d["status"] == "sent", what="sent after resend"
    )
    assert len(await outside.texts(phone)) == 1


async def test_a_slow_provider_holds_neither_email_nor_the_consumer(bus: Bus, outside: Outside) -> None:
    """One number's WhatsApp answers never come in time (accepted, answer after 8 s; our timeout
    is 3 s): meanwhile e-mail, other WhatsApp messages and later events all go through."""
    slow, other = seller(), seller()
    await outside.fault(target="http", status=None, delay_seconds=8, to=e164(slow.phone))
    await bus.publish(stock_low(slow), key="prd")
    await bus.publish(stock_low(other), key="prd")
    arrivals = [
        (await outside.mail_arrives(slow.email))[0],
        (await outside.mail_arrives(other.email))[0],
        (await outside.text_arrives(e164(other.phone)))[0],
    ]
    done = await eventually(
        lambda: outside.delivery(slow.email, "whatsapp", "stock_low"),
        lambda d: d is not None and d["status"] == "sent",
        timeout=30,
        what="slow whatsapp sent",
    )
    await outside.clear_faults()
    # Timed out once, then the retry got the provider's stored answer for the same key.
    assert done["attempts"] == 2 and "no answer within" in done["errors"][0]["error"]
    assert len(await outside.texts(e164(slow.phone))) == 1
    finished = datetime.fromisoformat(done["sent_at"])
    assert all(datetime.fromisoformat(item["received_at"]) < finished for item in arrivals)


async def test_preferences_choose_channels_and_receipts_always_reach_someone(system: System, bus: Bus, outside: Outside) -> None:
    owner = seller()
    url = "/notifications/preferences"
    refused = await outside.notifications.put(url, params={"recipient": owner.email}, json={"channels": {"seller_payout": []}})
    assert refused.status_code == 422 and "transactional" in refused.json()["message"]
    saved = await outside.notifications.put(
        url, params={"recipient": owner.email}, json={"channels": {"stock_low": ["sms"], "seller_payout": ["whatsapp"]}}
    )
    assert saved.status_code == 200 and saved.json()["channels"]["stock_low"] == ["sms"]
    assert saved.json()["channels"]["order_shipped"] == ["email", "whatsapp"]  # defaults for the rest

    await bus.publish(stock_low(owner), key="prd")
    sms = await outside.text_arrives(e164(owner.phone), channel="sms")
    assert sms[0]["text"].startswith("Beli NTT: stok Madu hutan Timor 500 ml tinggal 2")
    await bus.publish(
        OrderCompleted(
            order_id="BNTT-PREF", seller=owner, gross=100_000, levy=1_000, seller_payable=99_000, completed_at=datetime.now(UTC)
        ),
        key="BNTT-PREF",
    )
    await outside.text_arrives(e164(owner.phone), channel="whatsapp")
    await all_done(system, outside, owner.email)
    assert await outside.mail(owner.email) == [] and len(await outside.texts(e164(owner.phone))) == 2

    # A landline cannot get WhatsApp: the delivery is rejected with the reason, and the receipt
    # falls back to e-mail.
    landline = seller(phone="0380 821234")
    await outside.notifications.put(url, params={"recipient": landline.email}, json={"channels": {"seller_payout": ["whatsapp"]}})
    await bus.publish(
        OrderCompleted(
            order_id="BNTT-LAND", seller=landline, gross=50_000, levy=500, seller_payable=49_500, completed_at=datetime.now(UTC)
        ),
        key="BNTT-LAND",
    )
    assert "Rp49.500" in (await outside.mail_arrives(landline.email))[0]["text"]
    rejected = await outside.delivery(landline.email, "whatsapp", "seller_payout")
    assert rejected is not None and rejected["status"] == "rejected" and "not a mobile number" in rejected["last_error"]


async def test_inbox_counts_unread_and_marks_read(bus: Bus, outside: Outside) -> None:
    owner = seller()
    for stock in (3, 2, 1):
        await bus.publish(stock_low(owner, stock), key="prd")
    inbox = await eventually(lambda: outside.inbox(owner.email), lambda m: len(m) == 3, what="3 messages")
    assert [m["read"] for m in inbox] == [False] * 3
    by_phone = await outside.inbox(owner.phone)  # the dev lookup also takes a phone number, any format
    assert {m["id"] for m in by_phone} == {m["id"] for m in inbox}
    count = await outside.notifications.get("/notifications/unread-count", params={"recipient": owner.email})
    assert count.json() == {"unread": 3}

    read = await outside.notifications.post(f"/notifications/{inbox[0]['id']}/read", params={"recipient": owner.email})
    assert read.status_code == 200 and read.json()["read"] is True
    assert len(await outside.inbox(owner.email, unread_only=True)) == 2
    stranger = await outside.notifications.post(f"/notifications/{inbox[1]['id']}/read", params={"recipient": "x@y.id"})
    assert stranger.status_code == 404
    marked = await outside.notifications.post("/notifications/read-all", params={"recipient": owner.email})
    assert marked.json() == {"marked": 2}
    count = await outside.notifications.get("/notifications/unread-count", params={"recipient": owner.email})
    assert count.json() == {"unread": 0}
    bad = await outside.notifications.get("/notifications", params={"recipient": "12345"})
    assert bad.status_code == 422 and "not a valid number" in bad.json()["message"]


async def test_a_crash_mid_send_then_restart_sends_exactly_once(system: System, bus: Bus, outside: Outside) -> None:
    """The provider has the message but its answer never reaches us: the service is killed in
    between. After the restart the stale claim expires and the retry carries the same
    Idempotency-Key, so the provider answers with the first result instead of sending again."""
    owner = seller()
    phone = e164(owner.phone)
    await outside.fault(target="http", status=None, delay_seconds=2, count=1, to=phone)
    await bus.publish(stock_low(owner), key="prd")
    await outside.text_arrives(phone)  # accepted by the provider, answer still pending
    system.processes["notifications"].kill()
    system.processes["notifications"] = await asyncio.to_thread(start_app, system.profile, system.endpoints, "notifications")

    delivery = await eventually(
        lambda: outside.delivery(owner.email, "whatsapp", "stock_low"),
        lambda d: d is not None and d["status"] == "sent",
        timeout=60,
        what="sent after restart",
    )
    assert delivery["attempts"] == 2  # the one cut short by the crash, and the retry
    assert len(await outside.requests(phone)) == 2 and len(await outside.texts(phone)) == 1
    # The e-mail of the same event may have been claimed by the killed process too: it goes out
    # once its claim expires. Wait for it, then make sure it went out exactly once.
    await outside.mail_arrives(owner.email, timeout=40)  # SMTP's claim is held for its 10 s timeout plus a margin
    await all_done(system, outside, owner.email)  # a second send would come before the delivery is marked sent
    # SMTP has no idempotency key: if the killed process had handed the mail over just before the
    # kill, the retry hands it over again, under the same Message-ID, which mail programs show once.
    mails = await outside.mail(owner.email)
    assert 1 <= len(mails) <= 2 and len({m["message_id"] for m in mails}) == 1
