"""Sends queued e-mails over SMTP (when configured), with retries and backoff."""

from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib

from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger

from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore

log = get_logger(__name__)


class EmailSender:
    def __init__(self, store: NotificationsStore, settings: NotificationsSettings) -> None:
        self.store = store
        self.settings = settings

    async def send_due(self) -> bool:
        due = await self.store.due(utcnow())
        for message in due:
            if not self.settings.smtp_host:
                await self.store.mark(message["_id"], {"status": "stored"})  # in-app inbox only
                continue
            try:
                await self._send(message["email"], message["subject"], message["text"], message["_id"])
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                attempts = message["attempts"] + 1
                failed = attempts >= self.settings.send_max_attempts
                log.warning("notifications.send_failed", message_id=message["_id"], attempts=attempts, error=str(error))
                await self.store.mark(message["_id"], {"attempts": attempts, "last_error": str(error),
                                                       "status": "failed" if failed else "pending",
                                                       "next_attempt_at": utcnow() + timedelta(seconds=min(2 ** attempts, 300))})
                continue
            await self.store.mark(message["_id"], {"status": "sent", "sent_at": utcnow()})
        return bool(due)

    async def _send(self, to: str, subject: str, text: str, message_id: str) -> None:
        email = EmailMessage()
        email["From"] = self.settings.smtp_sender
        email["To"] = to
        email["Subject"] = subject
        email["X-Beli-Message-Id"] = message_id
        email.set_content(text)
        await aiosmtplib.send(
            email, hostname=self.settings.smtp_host, port=self.settings.smtp_port,
            username=self.settings.smtp_username or None, password=self.settings.smtp_password or None,
            start_tls=self.settings.smtp_starttls, timeout=self.settings.smtp_timeout_seconds,
        )
