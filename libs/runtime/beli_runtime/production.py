"""Refuse to start outside development with the repository's public keys or missing secrets.

The JWT pair in infra/dev-keys, the cursor secret and the Midtrans sandbox key the dev stack
uses are committed, so tokens and signatures made with them prove nothing. With
`ENVIRONMENT=production` (anything but `development`/`test`) a service that would run with one
of them, or without a secret it needs, stops at start-up naming every setting to fix.
"""

import hashlib

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key, load_pem_public_key

from beli_runtime.auth import KeySettings
from beli_runtime.cursors import DEVELOPMENT_SECRET, CursorSettings

DEVELOPMENT_ENVIRONMENTS = ("development", "test")
# SHA-256 of the raw Ed25519 public key in infra/dev-keys (the file itself may not ship in images).
DEVELOPMENT_JWT_KEY_SHA256 = "d9d23df65a4ebffd64933288352f1f1c9ab713c60b59bc83b7b929036d379824"


class UnsafeSettings(RuntimeError):
    def __init__(self, service: str, problems: list[str]) -> None:
        super().__init__(f"{service} refuses to start: " + "; ".join(problems))
        self.problems = problems


def is_development(environment: str) -> bool:
    return environment.strip().lower() in DEVELOPMENT_ENVIRONMENTS


def shared_secret_problems(*, issues_tokens: bool = False) -> list[str]:
    """What every service checks outside development: the JWT keys and the cursor secret."""
    keys = KeySettings()
    problems = _key_problems("JWT_PUBLIC_KEY", keys.public, private=False)
    if issues_tokens:
        problems += _key_problems("JWT_PRIVATE_KEY", keys.private, private=True)
    if CursorSettings().secret == DEVELOPMENT_SECRET:
        problems.append("CURSOR_SECRET is the development value: set a long random secret (the same on every instance)")
    elif len(CursorSettings().secret) < 32:
        problems.append("CURSOR_SECRET is shorter than 32 characters")
    return problems


def _key_problems(name: str, read: object, *, private: bool) -> list[str]:
    try:
        pem = read()  # type: ignore[operator]
        key = load_pem_private_key(pem.encode(), password=None).public_key() if private else load_pem_public_key(pem.encode())
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    except (RuntimeError, OSError, ValueError, TypeError) as error:
        return [f"{name}(_FILE) is missing or unreadable: {error}"]
    if hashlib.sha256(raw).hexdigest() == DEVELOPMENT_JWT_KEY_SHA256:
        return [f"{name} is the development key from infra/dev-keys (public): generate a production pair"]
    return []
