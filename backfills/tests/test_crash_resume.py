"""A worker killed with SIGKILL mid-job: the job resumes from its saved cursor and refetches no completed page.

The job runs in a real separate process (`manage.py backfill ... --wait`). The test database of this process is
SQLite in memory, which another process cannot open, so both runs use a migrated SQLite file of their own; the
time series go to the same MongoDB-compatible server and the Binance test server runs here, recording requests.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from ingestion.store import collection
from petrosa_dm.market.naming import series

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2024, 3, 1, tzinfo=UTC)
CANDLES = series("candles", "BTCUSDT", interval="1m")


def _manage(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.fixture
def worker_env(tmp_path, binance):
    server = binance(latency=0.15)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "DM_VAR_DIR": str(tmp_path),
        "MONGODB_URL": django_settings.MONGODB_URL,
        "BINANCE_FUTURES_BASE_URL": server.url,
        "BINANCE_WEIGHT_WINDOW_SECONDS": str(server.window_seconds),
        "LOG_LEVEL": "WARNING",
    }
    migrate = _manage("migrate", "--noinput", "-v0", env=env)
    assert migrate.wait(timeout=120) == 0, migrate.stderr.read().decode()
    return server, env, tmp_path / "worker.sqlite3"


def _job_row(database: Path) -> dict:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return dict(connection.execute("SELECT * FROM backfill_jobs").fetchone())


def test_a_killed_worker_resumes_from_its_cursor_without_refetching(mongo_db, worker_env):
    server, env, database = worker_env
    end = START + timedelta(days=3)  # 4,320 candles: 9 pages of at most 499
    worker = _manage(
        "backfill", "BTCUSDT", "candles", "--timeframe", "1m", "--start", START.isoformat(), "--end", end.isoformat(),
        "--wait", env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(server.requests_to("/fapi/v1/klines")) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    killed = _job_row(database)
    assert killed["status"] == "running"
    cursor = datetime.fromisoformat(killed["cursor"]).replace(tzinfo=UTC)
    assert START < cursor < end
    before = [int(r.params["startTime"]) for r in server.requests_to("/fapi/v1/klines")]
    completed = {start for start in before if start < cursor.timestamp() * 1000}
    assert len(completed) == killed["requests_made"] >= 3

    resumed = _manage("backfill", "--resume", str(killed["id"]), env=env)
    output, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errors.decode()
    assert f"job #{killed['id']} succeeded" in output.decode()

    after = [int(r.params["startTime"]) for r in server.requests_to("/fapi/v1/klines")][len(before) :]
    assert after[0] == int(cursor.timestamp() * 1000)  # straight from the saved cursor
    assert not completed & set(after)  # no completed page fetched again
    assert collection(CANDLES).count_documents({}) == 4320
    assert len(collection(CANDLES).distinct("open_time")) == 4320
    finished = _job_row(database)
    assert (finished["status"], finished["progress"]) == ("succeeded", 1.0)
    assert finished["rows_fetched"] >= 4320
