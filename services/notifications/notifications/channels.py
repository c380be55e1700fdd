"""The ways a message leaves Beli NTT. Each transport sends one stored delivery and says whether a
failure is worth retrying (`SendFailed.temporary`)."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import aiosmtplib
import httpx

from notifications.settings import NotificationsSettings


class SendFailed(Exception):
    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


class Transport(Protocol):
    channel: str
    timeout_seconds: float

    def configured(self) -> bool: ...

    async def send(self, delivery: dict[str, Any]) -> str | None:
        """Send; return the provider's message id (if any). Raise SendFailed."""
        ...

    async def close(self) -> None: ...


class EmailTransport:
    channel = "email"

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.timeout_seconds = settings.smtp_timeout_seconds

    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def build(self, delivery: dict[str, Any]) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.smtp_sender
        email["To"] = delivery["address"]
        email["Subject"] = delivery["subject"]
        email["Date"] = formatdate(localtime=False)
        # SMTP has no idempotency key: a stable Message-ID lets mail systems spot the duplicate a
        # crash between "accepted" and "marked sent" could cause.
        digest = hashlib.sha256(delivery["_id"].encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@beli-ntt.id>"
        email["X-Beli-Delivery-Id"] = delivery["_id"]
        email.set_content(delivery["text"])
        if delivery.get("html"):
            email.add_alternative(delivery["html"], subtype="html")
        return email

    async def send(self, delivery: dict[str, Any]) -> str | None:
        settings = self.settings
        try:
            await aiosmtplib.send(
                self.build(delivery), hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username or None, password=settings.smtp_password or None,
                start_tls=settings.smtp_starttls, use_tls=settings.smtp_use_tls, timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            raise SendFailed(f"SMTP refused the recipient: {error}", temporary=all(400 <= c < 500 for c in codes)) from None
        except aiosmtplib.SMTPResponseException as error:
            # 4xx: try again later; 5xx: the server will never take this message.
            raise SendFailed(f"SMTP {error.code}: {error.message}", temporary=error.code < 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise SendFailed(f"SMTP unreachable: {type(error).__name__}: {error}", temporary=True) from None
        return None

    async def close(self) -> None:
        pass


class ProviderTransport:
    """WhatsApp or SMS through the HTTP provider: POST {base}/v1/messages with a Bearer token and
    the delivery id as Idempotency-Key, so a retry after a lost answer sends nothing twice."""

    def __init__(self, settings: NotificationsSettings, channel: str) -> None:
        self.settings = settings
        self.channel = channel
        self.timeout_seconds = settings.messaging_timeout_seconds
        self._client: httpx.AsyncClient | None = None

    def configured(self) -> bool:
        return bool(self.settings.messaging_provider_url)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.settings.messaging_provider_url.rstrip("/"), timeout=self.timeout_seconds,
                headers={"Authorization": f"Bearer {self.settings.messaging_provider_token}"})
        return self._client

    async def send(self, delivery: dict[str, Any]) -> str | None:
        body = {"channel": self.channel, "to": delivery["address"], "text": delivery["text"], "reference": delivery["_id"]}
        try:
            response = await self._http().post("/v1/messages", json=body, headers={"Idempotency-Key": delivery["_id"]})
        except httpx.HTTPError as error:
            raise SendFailed(f"provider unreachable: {type(error).__name__}: {error}", temporary=True) from None
        if response.is_success:
            return str(response.json().get("id"))
        detail = response.text[:300]
        # 408/429/5xx are the provider's trouble; any other 4xx is ours and will not get better.
        temporary = response.status_code >= 500 or response.status_code in (408, 429)
        raise SendFailed(f"provider answered HTTP {response.status_code}: {detail}", temporary=temporary)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
