"""The one envelope every Beli NTT event travels in, and the registry of event payloads.

Writers are strict, readers tolerant: building an envelope or a payload in code refuses unknown
fields (extra="forbid"), so a typo never leaves a service; parsing what arrived from Kafka
ignores fields this code does not know, so a producer may add an optional field without its
older consumers turning every such event into a poison event. A new *required* field, or any
change of meaning, is a new VERSION of the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_REGISTRY: dict[tuple[str, int], type[EventPayload]] = {}


class UnknownEventType(LookupError):
    """The envelope names a type/version this code does not know."""


class EventPayload(BaseModel):
    """Base class of every event's `data`. Subclasses declare TYPE, VERSION and TOPIC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            key = (cls.TYPE, cls.VERSION)
            if key in _REGISTRY and _REGISTRY[key] is not cls:
                raise TypeError(f"event {key} defined twice")
            _REGISTRY[key] = cls


class Envelope(BaseModel):
    """Metadata common to all events. `key` is the aggregate id and the Kafka message key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int
    source: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    key: str
    correlation_id: str
    data: dict[str, Any]

    @classmethod
    def wrap(cls, payload: EventPayload, *, key: str, source: str, correlation_id: str | None = None) -> Self:
        return cls(
            type=payload.TYPE,
            version=payload.VERSION,
            source=source,
            key=key,
            correlation_id=correlation_id or key,
            data=payload.model_dump(mode="json"),
        )

    @property
    def topic(self) -> str:
        return payload_class(self.type, self.version).TOPIC

    def payload(self) -> EventPayload:
        """The typed payload (fields added by newer producers ignored). Raises UnknownEventType or
        pydantic.ValidationError."""
        return payload_class(self.type, self.version).model_validate(self.data, extra="ignore")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def payload_class(type_: str, version: int) -> type[EventPayload]:
    try:
        return _REGISTRY[(type_, version)]
    except KeyError:
        raise UnknownEventType(f"{type_} v{version}") from None


def decode(raw: bytes) -> Envelope:
    """Parse an envelope from Kafka bytes, ignoring envelope fields added later. Raises
    pydantic.ValidationError on garbage."""
    return Envelope.model_validate_json(raw, extra="ignore")


def event_types() -> dict[tuple[str, int], type[EventPayload]]:
    return dict(_REGISTRY)


# The Kafka header in which a producer's outbox names each event's type, so that a reader can pass
# over the types it has no use for without decoding them.
TYPE_HEADER = "event_type"


def type_in_headers(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    """The event's type as its Kafka headers name it; None for an event without the header."""
    return next((value.decode("utf-8", "replace") for key, value in headers or () if key == TYPE_HEADER), None)


__all__ = [
    "TYPE_HEADER",
    "Envelope",
    "EventPayload",
    "UnknownEventType",
    "ValidationError",
    "decode",
    "event_types",
    "payload_class",
    "type_in_headers",
]
