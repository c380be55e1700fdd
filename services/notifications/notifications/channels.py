"""The ways a message leaves Beli NTT. Each transport sends one stored delivery and says whether a
failure is worth retrying (`SendFailed.temporary`)."""

from __future__ import annotations

import hashlib
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, parseaddr
from typing import Protocol

import aiosmtplib
import httpx

from notifications.settings import NotificationsSettings
from notifications.store import Delivery


class SendFailed(Exception):
    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


class Transport(Protocol):
    channel: str
    timeout_seconds: float

    def configured(self) -> bool: ...

    async def send(self, delivery: Delivery) -> str | None:
        """Send; return the provider's message id (if any). Raise SendFailed."""
        ...

    async def close(self) -> None: ...


class EmailTransport:
    """SMTP with a small pool of open connections: connecting, EHLO, STARTTLS and AUTH cost more
    than a message, so each connection carries up to MESSAGES_PER_CONNECTION messages."""

    channel = "email"
    MESSAGES_PER_CONNECTION = 100

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.timeout_seconds = settings.smtp_timeout_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, int]] = []

    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def build(self, delivery: Delivery) -> MIMEMultipart | MIMEText:
        """The message in the email package's compat32 classes: EmailMessage parses every header
        it is given and encodes bodies in pure Python, a millisecond of the service's CPU per
        e-mail, the largest part of sending one (issue 11). Header values are plain strings
        (non-ASCII ones leave as RFC 2047 encoded words); one with a line break is refused, so
        nothing typed in can start a header of its own."""
        for name, value in (("To", delivery.address), ("Subject", delivery.subject or "")):
            if "\r" in value or "\n" in value:
                # compat32 writes a line break in a header as it is: the rest would become a header
                # or the body of its own. Never the case for what rendering and sign-up produce.
                raise SendFailed(f"the {name} header holds a line break: not sent", temporary=False)
        email: MIMEMultipart | MIMEText = MIMEText(delivery.text, "plain", "utf-8")
        if delivery.html:
            email = MIMEMultipart("alternative", _subparts=[email, MIMEText(delivery.html, "html", "utf-8")])
        email["From"] = self.settings.smtp_sender
        email["To"] = delivery.address
        email["Subject"] = delivery.subject or ""
        email["Date"] = formatdate(localtime=False)
        # SMTP has no idempotency key: a stable Message-ID lets mail systems spot the duplicate a
        # crash between "accepted" and "marked sent" could cause.
        digest = hashlib.sha256(delivery.id.encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@beli-ntt.id>"
        email["X-Beli-Delivery-Id"] = delivery.id
        return email

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_use_tls,
            start_tls=bool(settings.smtp_starttls),
        )
        await client.connect()  # STARTTLS and AUTH happen here when configured
        return client

    async def send(self, delivery: Delivery) -> str | None:
        email = self.build(delivery)
        # The envelope's addresses are given, not read back from the headers (an address that is
        # not ASCII still goes with SMTPUTF8).
        sender, recipients = parseaddr(self.settings.smtp_sender)[1], [delivery.address]
        client, used = self._idle.pop() if self._idle else (None, 0)
        try:
            if client is not None:
                try:
                    await client.send_message(email, sender=sender, recipients=recipients)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    # The server dropped an idle connection: not this message's fault, go again.
                    client.close()
                    client = None
            if client is None:
                client, used = await self._connect(), 0
                await client.send_message(email, sender=sender, recipients=recipients)
        except BaseException as error:  # noqa: BLE001 - includes the job's timeout cancelling us mid-session
            if client is not None:
                client.close()
            raise _smtp_failure(error) if isinstance(error, Exception) else error from None
        self._release(client, used + 1)
        return None

    def _release(self, client: aiosmtplib.SMTP, used: int) -> None:
        if used < self.MESSAGES_PER_CONNECTION and len(self._idle) < self.settings.send_concurrency:
            self._idle.append((client, used))
        else:
            client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except Exception:  # noqa: BLE001 - a broken idle connection is closed either way
                client.close()


def _smtp_failure(error: Exception) -> Exception:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in error.recipients]
        return SendFailed(f"SMTP refused the recipient: {error}", temporary=all(400 <= c < 500 for c in codes))
    if isinstance(error, aiosmtplib.SMTPResponseException):
        # 4xx: try again later; 5xx: the server will never take this message.
        return SendFailed(f"SMTP {error.code}: {error.message}", temporary=error.code < 500)
    if isinstance(error, aiosmtplib.SMTPException | OSError | TimeoutError):
        return SendFailed(f"SMTP unreachable: {type(error).__name__}: {error}", temporary=True)
    return error


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
                base_url=self.settings.messaging_provider_url.rstrip("/"),
                timeout=self.timeout_seconds,
                headers={"Authorization": f"Bearer {self.settings.messaging_provider_token}"},
            )
        return self._client

    async def send(self, delivery: Delivery) -> str | None:
        body = {"channel": self.channel, "to": delivery.address, "text": delivery.text, "reference": delivery.id}
        try:
            response = await self._http().post("/v1/messages", json=body, headers={"Idempotency-Key": delivery.id})
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
