"""One background job per channel sends that channel's due deliveries, several at a time, each
with a timeout: a slow or down provider only ever delays its own channel, never the others nor
the Kafka consumer (which only records intents)."""

from __future__ import annotations

import asyncio
from typing import Any

from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger
from beli_runtime.retry import Backoff
from notifications.channels import SendFailed, Transport
from notifications.settings import NotificationsSettings
from notifications.store import Delivery, NotificationsStore

log = get_logger(__name__)
# A claim outlives the send's own timeout, so it only expires when the sender died.
CLAIM_MARGIN_SECONDS = 5.0


class DeliveryJob:
    def __init__(self, store: NotificationsStore, transport: Transport, settings: NotificationsSettings) -> None:
        self.store = store
        self.transport = transport
        self.settings = settings
        self.name = f"send-{transport.channel}"

    def retry_at(self, attempts: int) -> Any:
        return Backoff(self.settings.send_retry_base_seconds, self.settings.send_retry_max_seconds).next_attempt_at(attempts)

    async def send_due(self) -> bool:
        due = await self.store.due(self.transport.channel, utcnow(), self.settings.send_batch)
        if not due:
            return False
        if not self.transport.configured():
            for delivery in due:
                await self.store.mark_skipped(delivery.id, f"{self.transport.channel} is not configured")
            return True
        gate = asyncio.Semaphore(self.settings.send_concurrency)

        async def one(delivery: Delivery) -> None:
            async with gate:
                await self._send_one(delivery)

        await asyncio.gather(*(one(delivery) for delivery in due))
        return True

    async def _send_one(self, due: Delivery) -> None:
        hold = self.transport.timeout_seconds + CLAIM_MARGIN_SECONDS
        delivery = await self.store.claim(due, utcnow(), hold)
        if delivery is None:
            return
        try:
            async with asyncio.timeout(self.transport.timeout_seconds):
                provider_id = await self.transport.send(delivery)
        except (SendFailed, TimeoutError) as error:
            temporary = error.temporary if isinstance(error, SendFailed) else True
            reason = str(error) or f"no answer within {self.transport.timeout_seconds} s"
            attempts = delivery.attempts
            give_up = not temporary or attempts >= self.settings.send_max_attempts
            log.warning(
                "notifications.send_failed",
                delivery_id=delivery.id,
                channel=self.transport.channel,
                attempts=attempts,
                temporary=temporary,
                gave_up=give_up,
                error=reason[:300],
            )
            await self.store.mark_failed_attempt(delivery.id, reason, None if give_up else self.retry_at(attempts))
            return
        except Exception as error:  # a bug in one message must not stop the batch
            log.exception("notifications.send_crashed", delivery_id=delivery.id)
            attempts = delivery.attempts
            retry = None if attempts >= self.settings.send_max_attempts else self.retry_at(attempts)
            await self.store.mark_failed_attempt(delivery.id, f"unexpected: {error!r}"[:300], retry)
            return
        await self.store.mark_sent(delivery.id, provider_id)
