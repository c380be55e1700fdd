"""Which new traces are recorded (loaded only when tracing is on, with the SDK)."""

from collections.abc import Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

STARTS_A_TRACE = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})


class RequestsAndEvents(Sampler):
    """A trace starts at an incoming request or a consumed event, never at a database call or an
    outgoing request of its own: background jobs poll the database all day, and each poll would
    otherwise be a trace of one span that buries the orders' traces (and costs the exporter).
    Of those, the fraction `ratio` is kept (OTEL_TRACES_SAMPLER=parentbased_traceidratio with
    OTEL_TRACES_SAMPLER_ARG=0.1: one order in ten), decided by trace id as the SDK's sampler does."""

    def __init__(self, ratio: float = 1.0) -> None:
        self._ratio = TraceIdRatioBased(min(1.0, max(0.0, ratio)))

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind not in STARTS_A_TRACE:
            return SamplingResult(Decision.DROP, None, trace_state)
        return self._ratio.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RequestsAndEvents({self._ratio.get_description()})"


def ratio_from(environ: Mapping[str, str]) -> float:
    """The standard OTEL_TRACES_SAMPLER(_ARG) variables, for the ratio samplers; else every trace."""
    if environ.get("OTEL_TRACES_SAMPLER", "").strip() in ("traceidratio", "parentbased_traceidratio"):
        try:
            return float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1"))
        except ValueError:
            return 1.0
    return 1.0
