"""App factory and the simulator's runtime: in-memory store, notification sender, expiry sweeper.

Run with `uvicorn midtrans_simulator.main:app --port 8005`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from beli_runtime import heap
from beli_runtime.bodies import BodyGuard
from beli_runtime.logs import configure_logging

from . import qris
from .api import router, utcnow
from .domain import (
    DeliveryAttempt,
    NotificationRecord,
    Transaction,
    apply_expiry,
    format_amount,
    notification_body,
    retry_delay,
    to_wib,
)
from .settings import Settings

log = structlog.get_logger("midtrans_simulator")


@dataclass(slots=True)
class Faults:
    snap_status: int | None = None
    snap_count: int = 0
    status_delay_seconds: float = 0.0
    status_delay_count: int = 0
    # A slow Snap: the transaction is created at once, the answer comes after the delay (so a
    # client that gives up first has a transaction it never heard about).
    snap_delay_seconds: float = 0.0
    snap_delay_count: int = 0
    refund_status: int | None = None
    refund_count: int = 0

    def clear(self) -> None:
        self.snap_status, self.snap_count = None, 0
        self.status_delay_seconds, self.status_delay_count = 0.0, 0
        self.snap_delay_seconds, self.snap_delay_count = 0.0, 0
        self.refund_status, self.refund_count = None, 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "snap_status": self.snap_status if self.snap_count else None,
            "snap_count": self.snap_count,
            "status_delay_seconds": self.status_delay_seconds if self.status_delay_count else 0.0,
            "status_delay_count": self.status_delay_count,
            "snap_delay_seconds": self.snap_delay_seconds if self.snap_delay_count else 0.0,
            "snap_delay_count": self.snap_delay_count,
            "refund_status": self.refund_status if self.refund_count else None,
            "refund_count": self.refund_count,
        }


class Simulator:
    """Everything the routes share. One instance per app, so tests can run several side by side."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Guards every read-modify-write of transactions and faults; never held across network I/O.
        self.lock = asyncio.Lock()
        self.transactions: dict[str, Transaction] = {}
        self.faults = Faults()
        self.registry = CollectorRegistry()
        self.snap_creates = Counter(
            "midtrans_simulator_snap_creates",
            "Snap create-transaction calls by result",
            ["result"],
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "midtrans_simulator_notifications_sent",
            "HTTP notification delivery attempts by transaction_status and outcome",
            ["transaction_status", "outcome"],
            registry=self.registry,
        )
        self.expiry_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lookup -------------------------------------------------------------------------------

    def find(self, key: str) -> Transaction | None:
        """Core API accepts either the merchant's order_id or Midtrans' transaction_id."""
        tx = self.transactions.get(key)
        if tx is not None:
            return tx
        return next((t for t in self.transactions.values() if t.transaction_id == key), None)

    def find_by_token(self, token: str) -> Transaction | None:
        return next((t for t in self.transactions.values() if t.token == token), None)

    def record_notification(self, tx: Transaction, trigger: str) -> NotificationRecord:
        """Call under the lock, right after the change, so the body matches that state."""
        record = NotificationRecord(notification_body(tx, self.settings.server_key), trigger)
        tx.notifications.append(record)
        return record

    def snapshot(self, tx: Transaction) -> dict[str, Any]:
        """What /simulator/transactions shows: state plus every notification and its delivery."""
        return {
            "order_id": tx.order_id,
            "transaction_id": tx.transaction_id,
            "token": tx.token,
            "redirect_url": f"{self.settings.public_url}/snap/v4/redirection/{tx.token}",
            "status": tx.status,
            "payment_type": tx.payment_type,
            "gross_amount": format_amount(tx.gross_amount),
            "refunded_amount": format_amount(tx.refunded_amount),
            "items": [{"id": i.id, "name": i.name, "price": i.price, "quantity": i.quantity} for i in tx.items],
            "customer_details": tx.customer_details,
            "created_at": to_wib(tx.created_at),
            "expiry_time": to_wib(tx.expires_at),
            "refunds": [r.response for r in tx.refunds],
            "notifications": [
                {
                    "trigger": n.trigger,
                    "body": n.body,
                    "delivered": n.delivered,
                    "attempts": [{"at": to_wib(a.at), "status": a.status, "error": a.error} for a in n.attempts],
                }
                for n in tx.notifications
            ],
        }

    # -- faults -------------------------------------------------------------------------------

    async def take_snap_fault(self) -> int | None:
        async with self.lock:
            if self.faults.snap_count <= 0 or self.faults.snap_status is None:
                return None
            self.faults.snap_count -= 1
            return self.faults.snap_status

    async def take_refund_fault(self) -> int | None:
        async with self.lock:
            if self.faults.refund_count <= 0 or self.faults.refund_status is None:
                return None
            self.faults.refund_count -= 1
            return self.faults.refund_status

    async def take_snap_delay(self) -> float:
        async with self.lock:
            if self.faults.snap_delay_count <= 0:
                return 0.0
            self.faults.snap_delay_count -= 1
            return self.faults.snap_delay_seconds

    async def take_status_delay(self) -> float:
        async with self.lock:
            if self.faults.status_delay_count <= 0:
                return 0.0
            self.faults.status_delay_count -= 1
            return self.faults.status_delay_seconds

    # -- notifications ------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.notify_timeout_seconds)
        return self._client

    async def attempt(self, record: NotificationRecord) -> DeliveryAttempt:
        url = self.settings.notification_url
        try:
            response = await self._http().post(url, json=record.body)
            attempt = DeliveryAttempt(utcnow(), response.status_code, None)
        except httpx.HTTPError as exc:
            attempt = DeliveryAttempt(utcnow(), None, f"{type(exc).__name__}: {exc}".strip())
        # Appending needs no lock: nothing awaits between reading and writing the list.
        record.attempts.append(attempt)
        status = str(record.body.get("transaction_status"))
        self.notifications_sent.labels(status, "delivered" if attempt.ok else "failed").inc()
        log.info(
            "notification_attempt",
            order_id=record.body.get("order_id"),
            transaction_status=status,
            url=url,
            http_status=attempt.status,
            error=attempt.error,
            attempt=len(record.attempts),
        )
        return attempt

    async def send(self, record: NotificationRecord, *, wait_first: bool) -> DeliveryAttempt | None:
        """Deliver like Midtrans: retry non-2xx with backoff, up to notify_max_attempts.

        With wait_first the first attempt is awaited (so the caller can report it) and only
        the retries run in the background.
        """
        if not wait_first:
            self.spawn(self._deliver_from(record, 1))
            return None
        first = await self.attempt(record)
        if not first.ok:
            self.spawn(self._deliver_from(record, 2))
        return first

    async def _deliver_from(self, record: NotificationRecord, first_attempt: int) -> None:
        for number in range(first_attempt, self.settings.notify_max_attempts + 1):
            if number > 1:
                await asyncio.sleep(retry_delay(number - 1, self.settings.notify_retry_base_seconds))
            if (await self.attempt(record)).ok:
                return
        log.warning("notification_gave_up", order_id=record.body.get("order_id"))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # Keep a strong reference: the event loop only holds weak ones to tasks.
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- expiry -------------------------------------------------------------------------------

    async def expire_due(self) -> list[str]:
        now = utcnow()
        records: list[NotificationRecord] = []
        async with self.lock:
            for tx in self.transactions.values():
                if apply_expiry(tx, now):
                    records.append(self.record_notification(tx, "expire"))
        for record in records:
            await self.send(record, wait_first=False)
        return [str(r.body["order_id"]) for r in records]

    async def run_expiry_loop(self) -> None:
        while True:
            try:
                expired = await self.expire_due()
                if expired:
                    log.info("transactions_expired", order_ids=expired)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad sweep must not stop all future expiries
                log.exception("expiry_sweep_failed")
            await asyncio.sleep(self.settings.expiry_check_seconds)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        # A fresh lock per serving loop: an asyncio.Lock that ever waited is bound to its loop,
        # and the same app object may be served by several loops (e.g. one TestClient each).
        self.lock = asyncio.Lock()
        self.expiry_task = asyncio.create_task(self.run_expiry_loop(), name="midtrans-expiry")

    async def aclose(self) -> None:
        pending = [t for t in (self.expiry_task, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def create_app(settings: Settings | None = None) -> FastAPI:
    configure_logging("midtrans-simulator")
    simulator = Simulator(settings or Settings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        simulator.start()
        log.info(
            "simulator_started",
            notification_url=simulator.settings.notification_url,
            public_url=simulator.settings.public_url,
        )
        try:
            yield
        finally:
            await simulator.aclose()

    app = FastAPI(title="Midtrans simulator (Beli NTT)", lifespan=heap.settled(lifespan))
    # Like Midtrans, a hostile body (too big, nested thousands deep) is refused before parsing.
    app.add_middleware(BodyGuard)
    app.state.simulator = simulator
    app.include_router(router)
    app.include_router(qris.router)
    return app


app = create_app()
