"""In-memory state of the simulator: received messages and mail, idempotency keys, faults.

Everything runs on one event loop (HTTP routes and the SMTP server alike), so plain data
structures are safe as long as no await sits between a read and the write that depends on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

CHANNELS = ("whatsapp", "sms")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
Target = Literal["http", "smtp"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fault:
    """Makes the next `remaining` requests (None: every request until cleared) fail or lag.

    `status` is an HTTP status for the provider API or an SMTP reply code for the mailbox;
    None means "do not fail, only wait `delay_seconds`" (a slow provider).
    """

    target: Target
    status: int | None = 503
    remaining: int | None = None
    to: str | None = None
    delay_seconds: float = 0.0
    hits: int = 0

    def matches(self, target: Target, recipients: list[str]) -> bool:
        if self.target != target or (self.remaining is not None and self.remaining <= 0):
            return False
        return self.to is None or self.to in recipients

    def take(self) -> None:
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "remaining": self.remaining,
            "to": self.to,
            "delay_seconds": self.delay_seconds,
            "hits": self.hits,
        }


@dataclass
class StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class State:
    keep: int
    messages: deque[dict[str, Any]] = field(default_factory=deque)
    mail: deque[dict[str, Any]] = field(default_factory=deque)
    idempotency: OrderedDict[str, StoredResponse] = field(default_factory=OrderedDict)
    faults: list[Fault] = field(default_factory=list)
    # Every request the provider API saw, accepted or not: lets tests count retries.
    requests: deque[dict[str, Any]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.messages = deque(maxlen=self.keep)
        self.mail = deque(maxlen=self.keep)
        self.requests = deque(maxlen=self.keep)

    def fault_for(self, target: Target, recipients: list[str]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(target, recipients):
                fault.take()
                return fault
        return None

    def remember(self, key: str, response: StoredResponse) -> None:
        self.idempotency[key] = response
        while len(self.idempotency) > self.keep:
            self.idempotency.popitem(last=False)

    def accept_message(self, channel: str, to: str, text: str, reference: str | None, key: str | None) -> dict[str, Any]:
        message = {
            "id": f"msg_{uuid.uuid4().hex[:16]}",
            "channel": channel,
            "to": to,
            "text": text,
            "reference": reference,
            "idempotency_key": key,
            "status": "queued",
            "received_at": utcnow().isoformat(),
        }
        self.messages.append(message)
        return message

    def reset(self) -> None:
        self.messages.clear()
        self.mail.clear()
        self.idempotency.clear()
        self.faults.clear()
        self.requests.clear()


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def validate_message(body: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The provider's own checks: (clean body, None) or (None, reason). It wants E.164 numbers."""
    if not isinstance(body, dict):
        return None, "body must be a JSON object"
    channel, to, text = body.get("channel"), body.get("to"), body.get("text")
    if channel not in CHANNELS:
        return None, f"channel must be one of {', '.join(CHANNELS)}"
    if not isinstance(to, str) or not E164.match(to):
        return None, f"'to' must be a phone number in E.164 form (+62...), got {to!r}"
    if not isinstance(text, str) or not text.strip():
        return None, "'text' must be a non-empty string"
    if len(text) > 4096:
        return None, "'text' is longer than 4096 characters"
    reference = body.get("reference")
    if reference is not None and not isinstance(reference, str):
        return None, "'reference' must be a string"
    return {"channel": channel, "to": to, "text": text, "reference": reference}, None
