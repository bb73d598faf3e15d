"""`make run` and one Ctrl-C: every process stops in order, within 30 s, with no ERROR line, and status 0.

This runs what `make run` runs (tests/run_service.py), waits until the web answers and the worker, beat and
consumer are up, then sends one SIGINT to the runner's process group, as a terminal's Ctrl-C does. About a minute.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from .run_service import prepared_service

STOP_WITHIN = 30.0
pytestmark = pytest.mark.timeout(240)


def test_one_sigint_stops_every_process_in_order_without_errors(tmp_path):
    service = prepared_service(tmp_path)
    service.start()
    try:
        service.wait_until_up()
        time.sleep(2)
        sent = time.monotonic()
        os.killpg(service.runner.pid, signal.SIGINT)  # one Ctrl-C
        status = service.runner.wait(timeout=STOP_WITHIN + 30)
        took = time.monotonic() - sent
    finally:
        service.kill()
    time.sleep(0.5)  # the reader thread takes the last lines
    output = service.output()
    assert status == 0, output[-4000:]
    assert took < STOP_WITHIN, f"stopped in {took:.1f} s"
    errors = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
    # Every process logs the same JSON keys.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {record["service"] for record in records} >= {"web", "worker", "beat", "consumer"}
    assert all({"time", "level", "logger", "service", "message"} <= record.keys() for record in records)
    log = (Path(service.env["DM_VAR_DIR"]) / "supervisord.log").read_text()
    # Ordered: every service process stopped before either store was asked to.
    stopped = [line.split("stopped: ")[1].split(" ")[0] for line in log.splitlines() if "stopped: " in line]
    assert set(stopped) == {"web", "worker", "beat", "consumer", "mongo", "nats"}, log[-3000:]
    last_service = max(stopped.index(name) for name in ("web", "worker", "beat", "consumer"))
    assert last_service < min(stopped.index("mongo"), stopped.index("nats")), log[-3000:]
    assert "SIGKILL" not in log, log[-3000:]
