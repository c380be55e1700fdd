"""Simulator configuration, read from environment variables once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # Bearer token the HTTP provider API requires (the notifications service sends it).
    api_token: str = "dev-messaging-token"
    smtp_host: str = "127.0.0.1"
    # 0 = no SMTP server (e.g. unit tests that only need the HTTP provider).
    smtp_port: int = 8025
    # When set, the SMTP server requires AUTH LOGIN/PLAIN with these credentials.
    smtp_username: str = ""
    smtp_password: str = ""
    # Oldest records are forgotten past this many, so a long benchmark cannot exhaust memory.
    keep: int = 20_000

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            api_token=os.environ.get("MESSAGING_API_TOKEN", cls.api_token),
            smtp_host=os.environ.get("MESSAGING_SMTP_HOST", cls.smtp_host),
            smtp_port=int(os.environ.get("MESSAGING_SMTP_PORT", str(cls.smtp_port))),
            smtp_username=os.environ.get("MESSAGING_SMTP_USERNAME", cls.smtp_username),
            smtp_password=os.environ.get("MESSAGING_SMTP_PASSWORD", cls.smtp_password),
            keep=int(os.environ.get("MESSAGING_KEEP", str(cls.keep))),
        )
