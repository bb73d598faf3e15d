"""Every process writes the same JSON keys; a failed backfill's line carries its job, dataset and error."""

import io
import json
import logging
import logging.config
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from backfills import services


def _json_lines(emit) -> list[dict]:
    """Log through the project's own LOGGING handler and formatter into a buffer."""
    config = json.loads(json.dumps(settings.LOGGING))
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        emit()
    finally:
        logging.config.dictConfig(settings.LOGGING)
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_has_the_common_keys_and_dataset_id_is_written_as_dataset(monkeypatch):
    monkeypatch.setenv("DM_SERVICE", "worker")
    from petrosa_dm.logs import service_name

    service_name.cache_clear()
    try:
        lines = _json_lines(lambda: logging.getLogger("audits.services").info("audit done", extra={"dataset_id": "x"}))
    finally:
        service_name.cache_clear()
    (line,) = lines
    assert {"time", "level", "logger", "service", "message"} <= line.keys()
    assert (line["service"], line["dataset"], line["level"]) == ("worker", "x", "INFO")
    assert "dataset_id" not in line


@pytest.mark.django_db
def test_a_failed_backfill_logs_its_job_dataset_and_error(mongo_db, binance):
    binance()
    start = datetime(2024, 3, 1, tzinfo=UTC)
    job = services.backfill_job_create(
        symbol="NOPEUSDT",
        data_type="candles",
        timeframe="1m",
        start=start,
        end=start + timedelta(hours=1),
        enqueue=False,
    )
    lines = _json_lines(lambda: services.backfill_job_run(job=job))
    (failed,) = [line for line in lines if line["message"] == "backfill job failed"]
    assert failed["job_id"] == job.pk
    assert failed["dataset"] == "candles_NOPEUSDT_1m"
    assert "Invalid symbol" in failed["error"]
