"""Old and new producers and consumers of one event version get along: readers ignore fields
they do not know (a producer may add an optional field), writers refuse them (a typo never
leaves a service), and a version a reader does not know is reported, never guessed."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from beli_contracts import Envelope, UnknownEventType, decode
from beli_contracts.orders import OrderPlaced, OrderShipped
from beli_contracts.values import Customer, OrderItem


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="BNTT-1",
        customer=Customer(name="Maria", email="maria@example.id", phone="081234567890", account_id="acc-1"),
        items=[OrderItem(product_id="prd-1", quantity=2)],
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def newer_producer_bytes() -> bytes:
    """What a newer orders service sends: optional fields added to the envelope, the payload and a nested value."""
    body = json.loads(Envelope.wrap(placed(), key="BNTT-1", source="orders").to_bytes())
    body["trace_parent"] = "00-abc-def-01"
    body["data"]["referrer"] = "web"
    body["data"]["customer"]["preferred_language"] = "id"
    body["data"]["items"][0]["gift_wrap"] = True
    return json.dumps(body).encode()


def test_a_reader_ignores_fields_added_by_a_newer_producer() -> None:
    envelope = decode(newer_producer_bytes())
    assert envelope.type == "orders.order_placed" and envelope.version == 1
    assert envelope.payload() == placed()


def test_a_reader_accepts_an_older_producer_without_later_optional_fields() -> None:
    body = json.loads(Envelope.wrap(placed(), key="BNTT-1", source="orders").to_bytes())
    del body["data"]["customer"]["account_id"]  # added after v1 first shipped; optional
    for line in body["data"]["items"]:
        line.pop("variant_id", None)
    payload = decode(json.dumps(body).encode()).payload()
    assert isinstance(payload, OrderPlaced)
    assert payload.customer.account_id is None and payload.items[0].variant_id is None


def test_a_shipment_from_before_the_shop_name_travelled_is_still_v1_and_reads() -> None:
    shipped = OrderShipped(
        order_id="BNTT-1",
        seller_id="slr-1",
        customer=placed().customer,
        courier="JNE",
        tracking_number="JNE0001",
        shipped_at=datetime(2026, 11, 24, tzinfo=UTC),
        seller_name="Tenun Ina Sumba",
    )
    body = json.loads(Envelope.wrap(shipped, key="BNTT-1", source="orders").to_bytes())
    assert body["version"] == 1 and body["data"]["seller_name"] == "Tenun Ina Sumba"
    del body["data"]["seller_name"]
    assert decode(json.dumps(body).encode()).payload() == shipped.model_copy(update={"seller_name": None})


def test_writers_stay_strict() -> None:
    with pytest.raises(ValidationError):
        OrderPlaced(**placed().model_dump(), referrer="web")
    with pytest.raises(ValidationError):
        Customer(name="Maria", email="maria@example.id", phone="081234567890", preferred_language="id")
    with pytest.raises(ValidationError):
        Envelope(type="orders.order_placed", version=1, source="orders", key="k", correlation_id="k", data={}, trace_parent="x")


def test_a_required_field_missing_is_still_invalid() -> None:
    body = json.loads(newer_producer_bytes())
    del body["data"]["placed_at"]
    with pytest.raises(ValidationError):
        decode(json.dumps(body).encode()).payload()


def test_a_newer_version_is_reported_not_read_as_the_old_one() -> None:
    body = json.loads(newer_producer_bytes())
    body["version"] = 2
    envelope = decode(json.dumps(body).encode())
    with pytest.raises(UnknownEventType, match=r"orders\.order_placed v2"):
        envelope.payload()
