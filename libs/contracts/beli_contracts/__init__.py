"""Integration events exchanged by Beli NTT services over Kafka.

Every event any service emits or consumes is defined in this package and nowhere else.
"""

from beli_contracts import accounts, catalog, orders, outlets, payments, programme
from beli_contracts.envelope import TYPE_HEADER, Envelope, EventPayload, UnknownEventType, decode, event_types, type_in_headers
from beli_contracts.topics import ALL_TOPICS, CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, PROGRAMME_EVENTS, dead_letter_topic

__all__ = [
    "ALL_TOPICS",
    "CATALOG_EVENTS",
    "ORDERS_EVENTS",
    "PAYMENTS_EVENTS",
    "PROGRAMME_EVENTS",
    "TYPE_HEADER",
    "Envelope",
    "EventPayload",
    "UnknownEventType",
    "accounts",
    "catalog",
    "dead_letter_topic",
    "decode",
    "event_types",
    "orders",
    "outlets",
    "payments",
    "programme",
    "type_in_headers",
]
