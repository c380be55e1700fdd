"""Prometheus metrics shared by every service (each process has its own registry)."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Events taken from Kafka", ["type", "outcome"])
EVENTS_PUBLISHED = Counter("events_published_total", "Outbox rows published to Kafka", ["type"])
# Age of the oldest event still waiting in the outbox when the relay last looked (0: none waiting):
# it grows when Kafka is unreachable or the relay has stopped.
OUTBOX_OLDEST_SECONDS = Gauge("outbox_oldest_unpublished_seconds", "Age of the oldest unpublished outbox row")
# Consumed events written per transaction (inbox.py): near 1 under load means batching is not
# happening (a consumer with little in hand, or batches that keep failing and are split).
CONSUMER_BATCH_EVENTS = Histogram("consumer_batch_events", "Consumed events written in one transaction", buckets=(1, 2, 4, 8, 16, 32))
DEAD_LETTERS = Counter("dead_letters_total", "Events moved to the dead-letter topic", ["type"])
