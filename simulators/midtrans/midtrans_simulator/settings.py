"""Simulator configuration, read from environment variables once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:  # fail at start-up rather than on the first expiry sweep
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)  # no slots: from_env reads the class-level defaults
class Settings:
    server_key: str = "SB-Mid-server-beli-ntt-dev"
    notification_url: str = "http://127.0.0.1:8003/midtrans/notification"
    public_url: str = "http://127.0.0.1:8005"
    expiry_check_seconds: float = 1.0
    # Real Midtrans waits minutes between retries; a simulator only needs the same shape, faster.
    notify_retry_base_seconds: float = 1.0
    notify_max_attempts: int = 10
    notify_timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            server_key=os.environ.get("MIDTRANS_SERVER_KEY", cls.server_key),
            notification_url=os.environ.get("MIDTRANS_NOTIFICATION_URL", cls.notification_url),
            public_url=os.environ.get("SIMULATOR_PUBLIC_URL", cls.public_url).rstrip("/"),
            expiry_check_seconds=_float_env("SIMULATOR_EXPIRY_CHECK_SECONDS", cls.expiry_check_seconds),
            notify_retry_base_seconds=_float_env("SIMULATOR_NOTIFY_RETRY_BASE_SECONDS", cls.notify_retry_base_seconds),
            notify_max_attempts=int(_float_env("SIMULATOR_NOTIFY_MAX_ATTEMPTS", float(cls.notify_max_attempts))),
            notify_timeout_seconds=_float_env("SIMULATOR_NOTIFY_TIMEOUT_SECONDS", cls.notify_timeout_seconds),
        )
