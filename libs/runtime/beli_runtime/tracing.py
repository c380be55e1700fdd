"""Distributed tracing with OpenTelemetry: one order is one trace across every service.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then no
SDK is installed, the API's no-op tracer answers every call and nothing is stored or sent.
When on, spans go over OTLP/HTTP (protobuf) to that endpoint (Jaeger, an OpenTelemetry
Collector...), and the standard OTEL_* variables apply (OTEL_SERVICE_NAME, OTEL_SDK_DISABLED,
OTEL_BSP_*, OTEL_EXPORTER_OTLP_*; of the samplers, the trace-id ratio ones: see tracing_sampler).

What is traced: incoming HTTP (FastAPI), PyMongo commands, outgoing HTTP (requests, which the
Midtrans SDK uses, and httpx, which the web app uses). Kafka is traced here rather than by an
instrumentation library, because events leave through the outbox: the W3C trace context is
captured when an event is WRITTEN to the outbox (`carrier()`), stored with it, and put in the
Kafka headers by the relay under a publish span that starts at the write, so the outbox's delay
shows; consumers start their span as a child of the context in the headers (`consuming`).
Background jobs that continue an order's work (e.g. opening its Midtrans link) resume the trace
stored with that work (`resumed`).
"""

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Not traced: probes and scrapes would be most of the spans and say nothing about an order.
EXCLUDED_URLS = "/healthz,/metrics"

_tracer: trace.Tracer = trace.NoOpTracer()
_enabled = False


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def enabled() -> bool:
    return _enabled


def configure(service_name: str) -> bool:
    """Install the SDK and the library instrumentations once per process, if an OTLP endpoint is
    set; returns whether tracing is on. Call it before creating database or HTTP clients."""
    global _tracer, _enabled
    if _enabled or not wanted():
        return _enabled
    # Imported here: a process with tracing off never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    from beli_runtime.tracing_sampler import RequestsAndEvents, ratio_from

    name = os.environ.get("OTEL_SERVICE_NAME", "").strip() or service_name
    provider = TracerProvider(
        resource=Resource.create({"service.name": name}), sampler=ParentBased(root=RequestsAndEvents(ratio_from(os.environ)))
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    _tracer = trace.get_tracer("beli_runtime")
    _enabled = True
    return True


def instrument_app(app: FastAPI) -> None:
    """Server spans for every request (continuing the caller's trace from `traceparent`)."""
    if _enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`, `tracestate`), to store with work
    that goes on later or elsewhere; empty when tracing is off or nothing is being traced."""
    headers: dict[str, str] = {}
    if _enabled:
        propagate.inject(headers)
    return headers


def current() -> Context | None:
    """The current trace context, to go on with later in another task (`within`); None when off."""
    return otel_context.get_current() if _enabled else None


@contextmanager
def within(captured: Context | None) -> Iterator[None]:
    """Run the body in a context `current` captured: e.g. an event handled in a batch another task
    writes stays under its own consumer span, and the events it writes stay in its order's trace."""
    if captured is None:
        yield
        return
    token = otel_context.attach(captured)
    try:
        yield
    finally:
        otel_context.detach(token)


def _context(stored: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(stored or {}))


@contextmanager
def resumed(stored: Mapping[str, str] | None, name: str, *, link: Mapping[str, str] | None = None, **attributes: str) -> Iterator[Span]:
    """A span continuing the trace stored with some work (see `carrier`), optionally linked to
    another trace (`link`: e.g. the Midtrans notification that prompted it). Without a stored
    trace nothing is recorded: a job's own polling is not an order's story."""
    if not _enabled or not stored:
        yield trace.INVALID_SPAN
        return
    links = _links(link)
    with _tracer.start_as_current_span(name, context=_context(stored), kind=SpanKind.INTERNAL, attributes=attributes, links=links) as span:
        yield span


@contextmanager
def consuming(headers: Sequence[tuple[str, bytes]] | None, name: str, attributes: Mapping[str, Any]) -> Iterator[Span]:
    """The consumer span of one Kafka message: a child of the producer's context in its headers."""
    if not _enabled:
        yield trace.INVALID_SPAN
        return
    found = {key: value.decode("latin-1") for key, value in headers or () if key in ("traceparent", "tracestate")}
    everything = {"messaging.system": "kafka", "messaging.operation.type": "process", **attributes}
    with _tracer.start_as_current_span(name, context=_context(found), kind=SpanKind.CONSUMER, attributes=everything) as span:
        yield span


def describe(name: str, attributes: Mapping[str, Any], problem: str | None = None) -> None:
    """Rename the current span once what it does is known, and mark it failed if `problem`."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(name)
        span.set_attributes(attributes)
        if problem is not None:
            span.set_status(Status(StatusCode.ERROR, problem[:300]))


class Publication:
    """The publish spans of one relay batch: each starts when its event was written to the outbox
    and ends when Kafka acknowledged it, and its context travels in the message's headers."""

    def __init__(self) -> None:
        self._spans: list[Span] = []

    def headers(
        self, stored: Mapping[str, str] | None, topic: str, written_at: datetime, attributes: Mapping[str, Any]
    ) -> list[tuple[str, bytes]]:
        if not stored:
            return []
        if not _enabled:
            # Tracing is off here but was on when the event was written: pass the context on.
            return [(key, str(value).encode()) for key, value in stored.items()]
        span = _tracer.start_span(
            f"publish {topic}",
            context=_context(stored),
            kind=SpanKind.PRODUCER,
            start_time=int(written_at.timestamp() * 1_000_000_000),
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation.type": "send", **attributes},
        )
        self._spans.append(span)
        outgoing: dict[str, str] = {}
        propagate.inject(outgoing, context=trace.set_span_in_context(span))
        return [(key, value.encode()) for key, value in outgoing.items()]

    def end(self, error: BaseException | None = None) -> None:
        for span in self._spans:
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()
        self._spans = []


def _links(stored: Mapping[str, str] | None) -> list[Link]:
    context = trace.get_current_span(_context(stored)).get_span_context() if stored else None
    return [Link(context)] if context is not None and context.is_valid else []
