"""Signed month-closing statements: the ledger's chain head leaves the database in a form
finance can keep and check without trusting the database (or us) later.

The statement is canonical JSON (sorted keys, no spaces); the signature is Ed25519 over its
UTF-8 bytes. Anyone with the public key can check it, e.g. with Python's `cryptography`:
`Ed25519PublicKey.verify(base64.b64decode(signature), statement.encode())`.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from payments.levy import canonical_value

STATEMENT_KIND = "beli-ntt.pad-ledger.month-closed"


class SigningUnavailable(Exception):
    """No signing key is configured: a month cannot be closed without publishing its head."""


class StatementSigner:
    def __init__(self, pem: str | None) -> None:
        key = serialization.load_pem_private_key(pem.encode(), password=None) if pem else None
        if key is not None and not isinstance(key, Ed25519PrivateKey):
            raise ValueError("LEDGER_SIGNING_KEY must be an Ed25519 private key (PEM)")
        self._key: Ed25519PrivateKey | None = key

    @classmethod
    def from_settings(cls, inline: str, path: str) -> "StatementSigner":
        return cls(inline or (Path(path).read_text() if path else None))

    @property
    def available(self) -> bool:
        return self._key is not None

    def public_key(self) -> Ed25519PublicKey:
        if self._key is None:
            raise SigningUnavailable("LEDGER_SIGNING_KEY_FILE is not configured: statements cannot be signed")
        return self._key.public_key()

    def key_id(self) -> str:
        return key_id_of(self.public_key())

    def public_pem(self) -> str:
        return self.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, fields: dict[str, Any]) -> dict[str, str]:
        """The statement text (what is signed), its signature and the key id."""
        assert self._key is not None
        statement = canonical_statement({**fields, "kind": STATEMENT_KIND, "key_id": self.key_id()})
        signature = base64.b64encode(self._key.sign(statement.encode())).decode()
        return {"statement": statement, "signature": signature, "key_id": self.key_id()}

    def signature_valid(self, statement: str, signature: str) -> bool:
        try:
            self.public_key().verify(base64.b64decode(signature, validate=True), statement.encode())
        except (InvalidSignature, ValueError):
            return False
        return True


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def canonical_statement(fields: dict[str, Any]) -> str:
    return json.dumps(canonical_value(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def statement_fields(closing: dict[str, Any]) -> dict[str, Any]:
    """What a closing's statement says: the month, its totals, the chain head, who and when."""
    return {
        "period": closing["_id"],
        "head_sequence": closing["head_sequence"],
        "head_hash": closing["head_hash"],
        "entries": closing["entries"],
        "gross": closing["gross"],
        "levy": closing["levy"],
        "seller_payable": closing["seller_payable"],
        "closed_at": closing["closed_at"],
        "closed_by": closing["closed_by"],
    }
