"""Month-closing statements: signed once, checkable with the public key alone, and any edit shows."""

import base64
import json
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from payments.signing import STATEMENT_KIND, StatementSigner, statement_fields


def signer() -> StatementSigner:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return StatementSigner(pem.decode())


def closing() -> dict:
    return {
        "_id": "2026-02",
        "head_sequence": 812,
        "head_hash": "ab" * 32,
        "entries": 812,
        "gross": 150_000_000,
        "levy": 1_500_000,
        "seller_payable": 148_500_000,
        "closed_at": datetime(2026, 3, 1, 1, 2, 3, 456000, tzinfo=UTC),
        "closed_by": "bapenda@nttprov.example.id",
    }


def test_a_statement_checks_with_the_public_key_and_an_edit_does_not() -> None:
    ledger_key = signer()
    signed = ledger_key.sign(statement_fields(closing()))
    content = json.loads(signed["statement"])
    assert (content["kind"], content["period"], content["head_hash"], content["closed_at"]) == (
        STATEMENT_KIND,
        "2026-02",
        "ab" * 32,
        "2026-03-01T01:02:03.456Z",
    )
    public = serialization.load_pem_public_key(ledger_key.public_pem().encode())
    public.verify(base64.b64decode(signed["signature"]), signed["statement"].encode())  # raises if wrong
    assert ledger_key.signature_valid(signed["statement"], signed["signature"])
    assert not ledger_key.signature_valid(signed["statement"].replace("ab" * 32, "cd" * 32), signed["signature"])
    assert not signer().signature_valid(signed["statement"], signed["signature"])  # another key
    assert not ledger_key.signature_valid(signed["statement"], "not base64!")
    assert signed["key_id"] == content["key_id"] == ledger_key.key_id() and len(signed["key_id"]) == 16


def test_without_a_key_nothing_is_signed() -> None:
    assert StatementSigner(None).available is False
