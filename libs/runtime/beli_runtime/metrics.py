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
# How late the event loop runs a callback that was due (loop.py): one process serves its HTTP
# requests, consumers and jobs on one loop, so a handler that computes without awaiting delays them all.
EVENT_LOOP_LAG = Histogram(
    "event_loop_lag_seconds", "How late the event loop ran a timer", buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
)
# Group commits (group_commit.py): how long an item waited for its batch to start, and how long
# batches took to write, per queue (checkouts, consumed events, a job's step).
GROUP_COMMIT_WAIT = Histogram(
    "group_commit_wait_seconds",
    "From an item's submission to the start of its batch's write",
    ["what"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GROUP_COMMIT_WRITE = Histogram(
    "group_commit_write_seconds", "One batch's write", ["what"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
)
