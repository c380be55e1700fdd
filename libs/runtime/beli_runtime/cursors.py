"""Opaque page cursors, signed so that they cannot be forged or edited.

A cursor is `base64url(JSON)` + `.` + `base64url(HMAC-SHA256)`, keyed by `CURSOR_SECRET` and by
the cursor's purpose (e.g. `catalog.search`), so a cursor is only accepted where it was made.
Whatever a client sends that we did not sign is refused before its values are looked at: no
hand-made key (`{"t": 1e30}`, a price of 2**64) ever reaches a query. The values are still
checked by their reader, as the secret could leak.

Every service that pages with cursors uses this module; `CURSOR_SECRET` must be the same on all
instances of a service (set it in production; the development value is refused there).
"""

import base64
import binascii
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "beli-ntt-development-cursor-secret"
_MAC_BYTES = 16
REFUSED = "cursor tidak dikenali; mulai lagi dari halaman pertama"


class BadCursor(ValueError):
    """Garbled, forged, or made for another purpose: the client starts from the first page."""

    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message)


class CursorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CURSOR_", extra="ignore")

    secret: str = DEVELOPMENT_SECRET


class Cursors:
    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"{purpose}\0{secret}".encode()).digest()

    def encode(self, payload: Any) -> str:
        raw = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        return f"{_b64(raw)}.{_b64(self._mac(raw))}"

    def decode(self, token: str) -> Any:
        body, dot, mac = token.rpartition(".")
        if not dot:
            raise BadCursor()
        try:
            raw, signature = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            raise BadCursor() from None
        if not hmac.compare_digest(signature, self._mac(raw)):
            raise BadCursor()
        try:
            return json.loads(raw)
        except ValueError:
            raise BadCursor() from None

    def _mac(self, raw: bytes) -> bytes:
        return hmac.new(self._key, raw, hashlib.sha256).digest()[:_MAC_BYTES]


@lru_cache(maxsize=16)
def cursors(purpose: str) -> Cursors:
    """The signer for one kind of cursor, keyed by this process's CURSOR_SECRET."""
    return Cursors(CursorSettings().secret, purpose)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
