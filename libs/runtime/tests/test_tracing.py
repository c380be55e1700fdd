"""Tracing is off unless an OTLP endpoint is set, and off costs nothing and changes nothing."""

from datetime import UTC, datetime

from beli_runtime import tracing


def test_on_only_with_an_endpoint_and_not_disabled() -> None:
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/v1/traces"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318", "OTEL_SDK_DISABLED": "true"})


def test_off_stores_nothing_and_passes_an_upstream_trace_on() -> None:
    assert not tracing.enabled()
    assert tracing.carrier() == {}
    with tracing.resumed({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}, "work") as span:
        assert not span.is_recording()
    publication = tracing.Publication()
    # An event written while tracing was on keeps its trace when a service without it relays it.
    stored = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert publication.headers(stored, "orders.events", datetime.now(UTC), {}) == [("traceparent", stored["traceparent"].encode())]
    assert publication.headers(None, "orders.events", datetime.now(UTC), {}) == []
    publication.end()


def test_traces_start_at_requests_and_events_only() -> None:
    from opentelemetry.sdk.trace.sampling import Decision
    from opentelemetry.trace import SpanKind

    from beli_runtime.tracing_sampler import RequestsAndEvents, ratio_from

    every, none = RequestsAndEvents(), RequestsAndEvents(0.0)
    assert every.should_sample(None, 12345, "GET /orders", SpanKind.SERVER).decision is Decision.RECORD_AND_SAMPLE
    assert every.should_sample(None, 12345, "process orders.order_placed", SpanKind.CONSUMER).decision is Decision.RECORD_AND_SAMPLE
    # A job's polling query, or a call it makes on its own, is not the start of an order's story.
    assert every.should_sample(None, 12345, "find", SpanKind.CLIENT).decision is Decision.DROP
    assert none.should_sample(None, 12345, "GET /orders", SpanKind.SERVER).decision is Decision.DROP
    assert ratio_from({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}) == 0.1
    assert ratio_from({}) == 1.0
