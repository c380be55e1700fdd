"""Signed cursors: what we made comes back; anything edited, forged or made elsewhere is refused."""

import base64
import json

import pytest

from beli_runtime.cursors import BadCursor, Cursors


def test_round_trip_and_opaque() -> None:
    signer = Cursors("secret", "catalog.search")
    token = signer.encode({"s": "newest", "k": [{"t": 1}, "prd-1"]})
    assert "prd-1" not in token
    assert signer.decode(token) == {"s": "newest", "k": [{"t": 1}, "prd-1"]}


def test_forged_edited_and_foreign_cursors_are_refused() -> None:
    signer = Cursors("secret", "catalog.search")
    token = signer.encode({"s": "price_asc", "k": [100, "prd-1"]})
    body, mac = token.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps({"s": "price_asc", "k": [2**64, "prd-1"]}).encode()).decode().rstrip("=")
    for bad in (
        f"{forged_body}.{mac}",  # edited values, old signature
        forged_body,  # unsigned (the old format)
        Cursors("another secret", "catalog.search").encode({"s": "price_asc", "k": [100, "prd-1"]}),
        Cursors("secret", "orders.seller-orders").encode({"s": "price_asc", "k": [100, "prd-1"]}),
        f"{body}.{mac[:-2]}",
        "!!!.???",
        "",
    ):
        with pytest.raises(BadCursor):
            signer.decode(bad)
