"""Traces are exported over OTLP/HTTP when an endpoint is configured, and continue the publisher's trace."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from petrosa_dm.testing.services import free_port
from petrosa_dm.tracing import consumed_message_span, trace_carrier, tracing_enabled

ROOT = Path(__file__).resolve().parent.parent


class Collector(ThreadingHTTPServer):
    """A real OTLP/HTTP endpoint that keeps the spans it receives."""

    def __init__(self) -> None:
        self.spans: list = []
        super().__init__(("127.0.0.1", 0), _CollectorHandler)


class _CollectorHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.server.spans.extend(scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector():
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def exporter(monkeypatch):
    """Tracing on, with spans kept in memory instead of sent to a collector."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(trace, "get_tracer", provider.get_tracer)
    return exporter


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not tracing_enabled()
    with consumed_message_span(
        {"_otel_trace_context": {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}}
    ) as span:
        assert span is None


def test_web_requests_are_exported_to_the_collector(collector, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "DM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(
        [gunicorn, "petrosa_dm.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/liveness", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not collector.spans:
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    names = [span.name for span in collector.spans]
    assert any("health/liveness" in name for name in names), names


def test_a_consumed_message_continues_the_publishers_trace(exporter):
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    envelope = {"_otel_trace_headers": {"traceparent": f"00-{trace_id}-{parent_id}-01"}, "data": {}}
    with consumed_message_span(trace_carrier(envelope), destination="binance.futures.websocket.data"):
        pass
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id
    assert span.attributes["messaging.destination"] == "binance.futures.websocket.data"


def test_the_consumer_batch_traces_each_message_under_its_publishers_trace(exporter):
    import orjson

    from ingestion.batches import batch_parse
    from petrosa_dm.market.timeutils import utcnow

    trace_id = "0af7651916cd43dd8448eb211c80319c"
    event = {
        "e": "markPriceUpdate",
        "E": 1617308820003,
        "s": "BTCUSDT",
        "p": "58940.14924532",
        "r": "0.00058455",
        "T": 1617321600000,
    }
    envelope = {
        "stream": "btcusdt@markPrice",
        "data": event,
        "timestamp": "2021-04-01T20:27:00.010Z",
        "message_id": "a3a3",
        "_otel_trace_context": {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
    }
    batch = batch_parse(payloads=[(orjson.dumps(envelope), "binance.futures.websocket.data")], ingested_at=utcnow())
    assert batch.row_count == 2  # the mark price and its funding row
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
