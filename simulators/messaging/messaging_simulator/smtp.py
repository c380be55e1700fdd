"""A real SMTP server (aiosmtpd) on the simulator's event loop: what arrives is parsed and kept
so that people (`GET /`) and tests (`GET /mail`) can read it."""

from __future__ import annotations

import asyncio
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .settings import Settings
from .store import State, utcnow

log = structlog.get_logger("messaging_simulator.smtp")


class MailboxHandler:
    def __init__(self, state: State) -> None:
        self.state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipients = [str(r) for r in envelope.rcpt_tos]
        fault = self.state.fault_for("smtp", recipients)
        if fault is not None:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if fault.status is not None:
                log.info("smtp.fault", to=recipients, code=fault.status)
                return f"{fault.status} 4.3.0 Mailbox simulator: injected failure"
        raw = envelope.original_content or envelope.content or b""
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
        self.state.mail.append(received(data, str(envelope.mail_from), recipients))
        return "250 2.0.0 OK: queued"


def received(raw: bytes, mail_from: str, recipients: list[str]) -> dict[str, Any]:
    """An e-mail as kept: parsed only when someone reads it (`readable`). Parsing each one as it
    arrived cost the simulator more CPU than receiving it, on a machine the benchmark shares with
    the whole stack (issue 11)."""
    return {
        "id": f"mail_{uuid.uuid4().hex[:16]}",
        "mail_from": mail_from,
        "to": recipients,
        "received_at": utcnow().isoformat(),
        "raw": raw,
    }


def readable(mail: dict[str, Any]) -> dict[str, Any]:
    """A kept e-mail with its headers and bodies (parsed once, on the first read)."""
    if "parsed" not in mail:
        mail["parsed"] = _parse(mail["raw"])
    return {key: value for key, value in mail.items() if key not in ("raw", "parsed")} | mail["parsed"]


def _parse(raw: bytes) -> dict[str, Any]:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return {
        "from": str(parsed.get("From", "")),
        "subject": str(parsed.get("Subject", "")),
        "message_id": str(parsed.get("Message-ID", "")),
        "headers": {key: str(value) for key, value in parsed.items()},
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
    }


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == self.username and data.password == self.password
        return AuthResult(success=ok, handled=False)


async def start_smtp(settings: Settings, state: State) -> asyncio.Server | None:
    if not settings.smtp_port:
        return None
    handler = MailboxHandler(state)
    auth = bool(settings.smtp_username)

    def protocol() -> SMTP:
        # No TLS here (a loopback test server): AUTH is allowed in clear text when configured.
        return SMTP(
            handler,
            hostname="mailbox.beli-ntt.local",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            auth_required=auth,
            authenticator=_Authenticator(settings.smtp_username, settings.smtp_password) if auth else None,
        )

    server = await asyncio.get_running_loop().create_server(protocol, settings.smtp_host, settings.smtp_port, reuse_address=True)
    log.info("smtp.listening", host=settings.smtp_host, port=settings.smtp_port, auth=auth)
    return server
