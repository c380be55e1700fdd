"""Prometheus metrics shared by every service (each process has its own registry)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Events taken from Kafka", ["type", "outcome"])
EVENTS_PUBLISHED = Counter("events_published_total", "Outbox rows published to Kafka")
DEAD_LETTERS = Counter("dead_letters_total", "Events moved to the dead-letter topic", ["type"])
