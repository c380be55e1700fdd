"""Kafka topics: one per producing service, plus one dead-letter topic per consumer group."""

CATALOG_EVENTS = "catalog.events"
ORDERS_EVENTS = "orders.events"
PAYMENTS_EVENTS = "payments.events"
PROGRAMME_EVENTS = "programme.events"

ALL_TOPICS = (CATALOG_EVENTS, ORDERS_EVENTS, PAYMENTS_EVENTS, PROGRAMME_EVENTS)

# Several partitions so that consumer groups can scale out; the message key (aggregate id)
# keeps one order's events on one partition, in order.
PARTITIONS = 6


def dead_letter_topic(consumer_group: str) -> str:
    return f"{consumer_group}.dead-letter"
