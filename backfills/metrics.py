"""Prometheus metrics of the backfiller (served by the web process's /metrics and, in workers, by Celery's exporter)."""

from prometheus_client import Counter, Gauge

BINANCE_WEIGHT_USED = Gauge(
    "data_manager_binance_weight_used", "X-MBX-USED-WEIGHT-1M from the latest Binance REST response."
)
BINANCE_REQUESTS = Counter("data_manager_binance_requests", "Binance REST requests sent.", ["endpoint"])
BACKFILL_PROGRESS = Gauge("data_manager_backfill_progress", "Fraction of a running backfill job done.", ["job"])
BACKFILL_ROWS = Counter("data_manager_backfill_rows", "Rows written by backfills.", ["data_type", "outcome"])
