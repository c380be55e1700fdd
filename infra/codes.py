"""Reading verification codes from the messaging simulator (the dev and test mailbox), for the seed
and the tests: they sign people up the way people do, by reading the code that was sent."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

CODE = re.compile(r"kode verifikasi[^0-9]{0,40}([0-9]{6})", re.IGNORECASE)


def e164(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "+" + digits if phone.startswith("+") else "+62" + digits.removeprefix("0")


def newest_code(items: list[dict[str, Any]], since: datetime | None = None) -> str | None:
    """The code in the newest message received after `since` (the simulator lists newest first):
    several test accounts may share a phone number, and an older code must not be taken."""
    for item in items:
        if since is not None and datetime.fromisoformat(item["received_at"]) < since:
            break
        found = CODE.search(f"{item.get('subject') or ''} {item.get('text') or ''}")
        if found:
            return found.group(1)
    return None


def mail_query(email: str) -> tuple[str, dict[str, str]]:
    return "/mail", {"to": email}


def sms_query(phone: str) -> tuple[str, dict[str, str]]:
    return "/v1/messages", {"to": e164(phone), "channel": "sms"}
