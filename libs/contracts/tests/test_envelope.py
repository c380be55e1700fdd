"""The envelope round-trips through Kafka bytes and refuses what it does not know."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from beli_contracts import Envelope, UnknownEventType, decode, event_types
from beli_contracts.orders import OrderPlaced
from beli_contracts.topics import ORDERS_EVENTS
from beli_contracts.values import Customer, OrderItem


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="BNTT-1",
        customer=Customer(name="Maria", email="maria@example.id", phone="081234567890"),
        items=[OrderItem(product_id="prd-1", quantity=2)],
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_envelope_round_trips_and_keys_by_aggregate() -> None:
    envelope = Envelope.wrap(placed(), key="BNTT-1", source="orders")
    again = decode(envelope.to_bytes())
    assert again == envelope
    assert again.topic == ORDERS_EVENTS
    assert again.type == "orders.order_placed" and again.version == 1
    assert isinstance(again.id, uuid.UUID)
    assert again.correlation_id == "BNTT-1"
    assert again.payload() == placed()


def test_unknown_type_or_version_is_reported_not_guessed() -> None:
    envelope = Envelope.wrap(placed(), key="BNTT-1", source="orders")
    newer = envelope.model_copy(update={"version": 99})
    with pytest.raises(UnknownEventType):
        newer.payload()


def test_invalid_data_is_refused() -> None:
    envelope = Envelope.wrap(placed(), key="BNTT-1", source="orders")
    broken = envelope.model_copy(update={"data": {**envelope.data, "items": [{"product_id": "p", "quantity": 0}]}})
    with pytest.raises(ValidationError):
        broken.payload()
    with pytest.raises(ValidationError):
        decode(b'{"type": "orders.order_placed"}')


def test_every_event_has_a_topic_of_its_producer() -> None:
    for (type_, _), payload in event_types().items():
        assert f"{type_.split('.')[0]}.events" == payload.TOPIC
