"""Driving Beli NTT from outside, through its HTTP contract only (as a shopper, a seller, Midtrans)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from beli_contracts import CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, Envelope, decode
from beli_contracts.topics import PARTITIONS
from beli_runtime.outbox import unsent_rows
from infra.codes import mail_query, newest_code, sms_query
from infra.processes import ManagedProcess
from infra.profiles import Profile
from infra.stack import Endpoints
from infra.tokens import mint
from tests.service_layer import EMBEDDING

T = TypeVar("T")
FINAL = {"PAID", "REJECTED", "CANCELLED"}


@dataclass
class System:
    profile: Profile
    endpoints: Endpoints
    processes: dict[str, ManagedProcess] = field(default_factory=dict)


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll until `accept(probe())`; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


# The Kafka client's own reconnect chatter while a broker restarts says nothing about an order.
_LOG_NOISE = ("NodeNotReady", "Failed fetch", "Group Coordinator", "produce response", "Heartbeat", "OffsetCommit", "Unable ")


def log_report(log_dir: Path | None, needle: str, *, lines: int = 12) -> str:
    """The apps' log lines about `needle` and their latest warnings: what a timed-out wait
    needs to be diagnosed from CI output alone (the run's files are gone by then)."""
    if log_dir is None or not log_dir.is_dir():
        return ""
    report = []
    for path in sorted(log_dir.glob("*.log")):
        if path.name.startswith(("kafka", "mongo")):
            continue
        text = path.read_text(errors="replace").splitlines()
        about = [line[:400] for line in text if needle in line][-lines:]
        trouble = [
            line[:400]
            for line in text
            if ('"warning"' in line or '"error"' in line or "Traceback" in line) and not any(n in line for n in _LOG_NOISE)
        ][-lines:]
        if about or trouble:
            report.append(f"--- {path.name}: about {needle} ---\n" + "\n".join(about))
            report.append(f"--- {path.name}: latest warnings ---\n" + "\n".join(trouble))
    return "\n".join(report)


async def read_events(
    bootstrap: str, topic: str, accept: Callable[[Envelope], bool], *, count: int, timeout: float = 30.0, settle: float = 0.0
) -> list[Envelope]:
    """Events of `topic` (read from its start by a real consumer) that `accept` keeps: waits for
    `count` of them, then `settle` seconds more so that an extra one (a duplicate) would be seen."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[Envelope] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < (settle_until or deadline):
            batches = await consumer.getmany(timeout_ms=300)
            found += [e for records in batches.values() for e in map(_decoded, records) if e is not None and accept(e)]
            if len(found) >= count and settle_until is None:
                settle_until = time.monotonic() + settle
    finally:
        await consumer.stop()
    assert len(found) >= count, f"expected {count} events on {topic}, got {[e.type for e in found]}"
    return found


async def consumed_to_end(bootstrap: str, group: str, *topics: str, timeout: float = 60.0) -> dict[TopicPartition, int]:
    """The marker that replaces "sleep, then assert nothing happened": wait until consumer group
    `group` has committed, on every partition of `topics`, the end offset that partition has now.
    Services commit after the handler's transaction, so everything published before this call
    has been processed by that group; what did not happen by then will not happen from it."""
    # Every topic has the contract's partition count (created so by infra and the Helm chart); the
    # client's own metadata is not used, as it can be empty here and the marker would wait for nothing.
    partitions = [TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        ends = {tp: end for tp, end in (await reader.end_offsets(partitions)).items() if end > 0}
    finally:
        await reader.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:

        async def committed() -> dict[TopicPartition, int]:
            offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends))
            return {tp: (meta.offset if meta is not None else -1) for tp, meta in offsets.items()}

        def behind(seen: dict[TopicPartition, int]) -> dict[str, int]:
            return {f"{tp.topic}[{tp.partition}]": end - seen.get(tp, -1) for tp, end in ends.items() if seen.get(tp, -1) < end}

        await eventually(committed, lambda seen: not behind(seen), timeout=timeout, what=f"group {group} to consume {topics} to the end")
    finally:
        await admin.close()
    return ends


# What each service's consumer group reads (its handlers' Subscription).
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "catalog": (ORDERS_EVENTS,),
    "orders": (CATALOG_EVENTS, PAYMENTS_EVENTS),
    "payments": (ORDERS_EVENTS,),
    "notifications": (ORDERS_EVENTS, PAYMENTS_EVENTS, CATALOG_EVENTS),
}


async def quiesced(system: System, services: tuple[str, ...] = tuple(SUBSCRIPTIONS), timeout: float = 90.0) -> None:
    """The whole system has nothing left in flight: every service's outbox is published and every
    consumer group has processed its topics to the end, twice in a row with the same ends (so the
    last round's handlers produced nothing new). A marker for "everything that will happen has"."""
    mongo = AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)
    previous: dict[str, Any] | None = None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for service in services:
                await eventually(
                    lambda db=mongo[f"beli_{service}"]: unsent_rows(db, EMBEDDING),
                    lambda pending: not pending,
                    timeout=timeout,
                    what=f"{service}'s outbox to be published",
                )
            ends = {
                service: await consumed_to_end(system.endpoints.kafka_bootstrap, service, *SUBSCRIPTIONS[service], timeout=timeout)
                for service in services
            }
            if ends == previous:
                return
            previous = ends
        raise AssertionError(f"the system did not settle within {timeout}s")
    finally:
        await mongo.close()


async def payments_caught_up(api: "Api", system: System, order_id: str, *groups: str, timeout: float = 60.0) -> None:
    """Everything Midtrans told payments about `order_id` has been acted on, and whatever that
    emitted has been processed by `groups`: Midtrans delivered every notification it holds,
    payments has no unprocessed one for the order, its outbox holds no unpublished event written
    before now, and each group consumed payments.events to its end."""

    async def undelivered() -> list[str]:
        transaction = await api.midtrans.get(f"/simulator/transactions/{order_id}")
        notes = transaction.json().get("notifications", []) if transaction.status_code == 200 else []
        return [n["trigger"] for n in notes if not n["delivered"]]

    await eventually(undelivered, lambda left: not left, timeout=timeout, what=f"Midtrans to deliver its notifications for {order_id}")
    mongo = AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)
    try:
        db = mongo["beli_payments"]
        await eventually(
            lambda: db["midtrans_notifications"].count_documents({"order_id": order_id, "processed": False}),
            lambda pending: pending == 0,
            timeout=timeout,
            what=f"payments to act on every notification for {order_id}",
        )
        now = datetime.now(UTC)
        await eventually(
            lambda: db["outbox"].count_documents({"published_at": None, "created_at": {"$lte": now}}),
            lambda pending: pending == 0,
            timeout=timeout,
            what="payments to publish what it wrote",
        )
    finally:
        await mongo.close()
    for group in groups:
        await consumed_to_end(system.endpoints.kafka_bootstrap, group, PAYMENTS_EVENTS, timeout=timeout)


def _decoded(record: Any) -> Envelope | None:
    """The fault tests put garbage on topics on purpose; readers skip it like the services do."""
    try:
        return decode(record.value)
    except ValueError:
        return None


class Api:
    """Every client carries an operator (admin) token unless a call says who it acts as: the
    harness watches like an operator, and acts as the shopper or seller where that matters."""

    def __init__(self, clients: dict[str, httpx.AsyncClient], log_dir: Path | None = None) -> None:
        self.seller_tokens: dict[str, str] = {}
        self.log_dir = log_dir  # the apps' logs, quoted when a wait times out
        self.catalog = clients["catalog"]
        self.orders = clients["orders"]
        self.payments = clients["payments"]
        self.notifications = clients["notifications"]
        self.programme = clients["programme"]
        self.midtrans = clients["midtrans"]
        self.messaging = clients["messaging"]

    @classmethod
    @asynccontextmanager
    async def connect(cls, system: System) -> AsyncIterator["Api"]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        operator = {"Authorization": f"Bearer {mint('admin', email='operator@beli-ntt.id', minutes=24 * 60)}"}
        clients = {
            name: httpx.AsyncClient(base_url=system.profile.service_url(name), timeout=30, limits=limits, headers=operator)
            for name in system.profile.service_ports
        }
        try:
            yield cls(clients, system.profile.log_dir)
        finally:
            for client in clients.values():
                await client.aclose()

    # --- sellers and products -------------------------------------------------------------

    async def seller(self, regency: str = "Sumba Timur", name: str | None = None) -> dict[str, Any]:
        # The documented flow: a seller signs up (pending), an operator verifies it; only then
        # are its products visible and orderable.
        seller = await self.pending_seller(regency, **({"name": name} if name else {}))
        return await self.verify_seller(seller["id"])

    async def seller_account(self, name: str, email: str, phone: str) -> dict[str, Any]:
        """Sign up a seller account; returns the tokens."""
        return await self.sign_up("seller", name, email, phone, "kata-sandi-rahasia")

    async def sign_up(self, role: str, name: str, email: str, phone: str, password: str) -> dict[str, Any]:
        """Sign up as a person would: the codes sent to the e-mail and by SMS are read from the
        messaging simulator and entered. Returns the tokens."""
        since = datetime.now(UTC)
        response = await self.catalog.post(
            "/auth/signup",
            headers={"Authorization": ""},
            json={"role": role, "name": name, "email": email, "phone": phone, "password": password},
        )
        assert response.status_code == 202, response.text
        code, phone_code = await asyncio.gather(self.code_sent(*mail_query(email), since), self.code_sent(*sms_query(phone), since))
        verified = await self.catalog.post(
            "/auth/verify", headers={"Authorization": ""}, json={"email": email, "code": code, "phone_code": phone_code}
        )
        assert verified.status_code == 200, verified.text
        return verified.json()

    async def code_sent(self, path: str, params: dict[str, str], since: datetime | None = None, timeout: float = 30.0) -> str:
        """The newest verification code in the simulator's mailbox (e-mail) or provider (SMS)."""

        async def newest() -> str | None:
            return newest_code((await self.messaging.get(path, params=params)).raise_for_status().json(), since)

        return str(await eventually(newest, lambda code: code is not None, timeout=timeout, what=f"a verification code at {params}"))

    def as_seller(self, seller: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seller_tokens[seller['id']]}"}

    @staticmethod
    def as_shopper(customer: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint('shopper', email=customer['email'], phone=customer['phone'])}"}

    async def verify_seller(self, seller_id: str) -> dict[str, Any]:
        response = await self.catalog.post(f"/admin/sellers/{seller_id}/verify")
        assert response.status_code == 200, response.text
        return response.json()

    async def pending_seller(self, regency: str = "Sumba Timur", **fields: Any) -> dict[str, Any]:
        """A seller that signed up and is not verified yet."""
        tag = uuid.uuid4().hex[:8]
        profile = {
            "name": f"UMKM {tag}",
            "regency": regency,
            "village": "Desa Jenilu",
            "email": f"seller-{tag}@umkm.example.id",
            "phone": f"0812{int(tag, 16) % 10**8:08d}",
            **fields,
        }
        tokens = await self.seller_account(profile["name"], profile["email"], profile["phone"])
        response = await self.catalog.post("/sellers", json=profile, headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert response.status_code == 201, response.text
        seller = response.json()
        # A fresh token carries the seller id that orders and payments check.
        refreshed = await self.catalog.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200 and refreshed.json()["account"]["seller_id"] == seller["id"], refreshed.text
        self.seller_tokens[seller["id"]] = refreshed.json()["access_token"]
        return seller

    async def listing(self, seller: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """A product with any of the listing fields (variants, threshold, weight, ...)."""
        response = await self.catalog.post("/products", json={"seller_id": seller["id"], **fields}, headers=self.as_seller(seller))
        assert response.status_code == 201, response.text
        return response.json()

    async def search(self, **params: Any) -> dict[str, Any]:
        response = await self.catalog.get("/products", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def product(
        self, seller: dict[str, Any], *, price: int, stock: int, category: str = "tenun", name: str = "Kain tenun ikat"
    ) -> dict[str, Any]:
        response = await self.catalog.post(
            "/products",
            headers=self.as_seller(seller),
            json={"seller_id": seller["id"], "name": name, "category": category, "price": price, "stock": stock},
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def stock_of(self, product_id: str) -> dict[str, Any]:
        response = await self.catalog.get(f"/products/{product_id}")
        assert response.status_code == 200, response.text
        return response.json()

    # --- shopping -------------------------------------------------------------------------

    @staticmethod
    def shopper() -> dict[str, str]:
        tag = uuid.uuid4().hex[:8]
        return {"name": f"Pembeli {tag}", "email": f"asn-{tag}@nttprov.example.id", "phone": f"0813{int(tag, 16) % 10**8:08d}"}

    async def place(
        self, items: list[tuple[str, int]], *, customer: dict[str, str] | None = None, key: str | None = None
    ) -> httpx.Response:
        customer = customer or self.shopper()
        body = {"customer": customer, "items": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in items]}
        return await self.orders.post(
            "/orders", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex, **self.as_shopper(customer)}
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self.orders.get(f"/orders/{order_id}")
        for _ in range(60):  # a polite client waits out a 503 (database restarting)
            if response.status_code != 503:
                break
            await asyncio.sleep(0.5)
            response = await self.orders.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def order_reaches(self, order_id: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        return await eventually(
            lambda: self.order(order_id), lambda o: o["status"] in statuses, timeout=timeout, what=f"order {order_id} to reach {statuses}"
        )

    async def payable(self, order_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the order is awaiting payment and has its Midtrans link."""
        return await eventually(
            lambda: self.order(order_id),
            lambda o: o["status"] != "PENDING" and (o["status"] != "AWAITING_PAYMENT" or o["payment"] is not None),
            timeout=timeout,
            what=f"payment link of {order_id}",
        )

    async def pay(self, order_id: str, transaction_status: str = "settlement") -> dict[str, Any]:
        response = await self.midtrans.post(f"/simulator/pay/{order_id}", json={"transaction_status": transaction_status})
        assert response.status_code == 200, response.text
        return response.json()

    async def levy_entries(self, order_id: str) -> dict[str, Any]:
        response = await self.payments.get("/levy/entries", params={"order_id": order_id})
        assert response.status_code == 200, response.text
        return response.json()

    async def inbox(self, recipient: str) -> list[dict[str, Any]]:
        response = await self.notifications.get("/notifications", params={"recipient": recipient})
        assert response.status_code == 200, response.text
        return response.json()
