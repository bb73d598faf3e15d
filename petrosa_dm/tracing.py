"""OpenTelemetry traces, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

When it is not set nothing is imported or wrapped, so tracing costs nothing. When it is: HTTP requests (Django),
Celery tasks and consumed messages are traced and exported over OTLP/HTTP; a consumed message continues the
publisher's trace from the envelope's `_otel_trace_context` (a W3C carrier dict) or `_otel_trace_headers`.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext

SERVICE_NAME = "petrosa-data-manager"
CARRIER_KEYS = ("_otel_trace_context", "_otel_trace_headers")
_configured: set[str] = set()


def tracing_enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def setup_tracing(role: str) -> bool:
    """Install the tracer provider and the instrumentation of this process's role (web, worker, consumer)."""
    if not tracing_enabled() or role in _configured:
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if not _configured:
        resource = Resource.create({"service.name": SERVICE_NAME, "service.namespace": "petrosa", "petrosa.role": role})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    if role == "web":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument()
    elif role == "worker":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    _configured.add(role)
    return True


def trace_carrier(envelope: Mapping) -> dict[str, str] | None:
    """The publisher's trace context from `_otel_trace_context` or `_otel_trace_headers`, if any."""
    for key in CARRIER_KEYS:
        carrier = envelope.get(key)
        if isinstance(carrier, Mapping) and carrier:
            return {str(k): str(v) for k, v in carrier.items()}
    return None


@contextmanager
def _consumed_span(name: str, carrier: Mapping | None, attributes: Mapping) -> Iterator[object]:
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    context = extract(carrier) if carrier else None
    tracer = trace.get_tracer("petrosa_dm.ingestion")
    with tracer.start_as_current_span(name, context=context, kind=trace.SpanKind.CONSUMER) as span:
        for key, value in attributes.items():
            span.set_attribute(key, value)
        yield span


def consumed_message_span(carrier: Mapping | None, **attributes: str | int) -> object:
    """A span for one consumed message, child of the publisher's span when its trace context was carried."""
    if not tracing_enabled():
        return nullcontext()
    return _consumed_span("nats consume", carrier, {f"messaging.{k}": v for k, v in attributes.items()})
