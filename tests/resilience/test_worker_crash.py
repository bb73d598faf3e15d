"""A Celery worker killed with SIGKILL in the middle of a backfill job; a new worker resumes the stale job.

Real processes throughout: `celery -A petrosa_dm worker` on a redis-server of the test's own, the job enqueued
by `manage.py backfill` without `--wait` (`backfills.services.backfill_job_create`, enqueued on commit), the local
Binance test server with a one-second weight window and a budget of two pages per window so the job takes
several seconds, and `backfills.tasks.resume_stale_jobs` sent through the broker as the beat schedule sends it.
The worker, the command and this test share a migrated SQLite file: the test's own database may be in memory.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from kombu import Connection

from backfills.testing.binance_server import BinanceTestServer

from .conftest import PROJECT

pytestmark = pytest.mark.timeout(150)

START = datetime(2024, 3, 1, tzinfo=UTC)
END = START + timedelta(days=5)  # 7,200 one-minute candles: 15 pages of at most 499
CANDLES = 7200
STALE_SECONDS = 3
KLINES = "/fapi/v1/klines"


@pytest.fixture
def binance():
    server = BinanceTestServer(window_seconds=1.0).start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(own_redis, own_mongo, subprocess_database, binance) -> dict:
    return os.environ | {
        "DATABASE_URL": subprocess_database,
        "MONGODB_URL": own_mongo.url,
        "CELERY_BROKER_URL": own_redis.url,
        "BINANCE_FUTURES_BASE_URL": binance.url,
        "BINANCE_WEIGHT_WINDOW_SECONDS": "1",
        "BINANCE_WEIGHT_BUDGET": "4",  # two 499-candle pages (weight 2 each) per one-second window
        "BACKFILL_STALE_SECONDS": str(STALE_SECONDS),
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def workers(worker_env, tmp_path):
    """Start Celery workers, each in its own process group (a killed container takes the pool's children too)."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "petrosa_dm", "worker", "--concurrency", "1",
             "--loglevel", "WARNING", "--hostname", f"resilience{len(started)}@%h",
             "--without-gossip", "--without-mingle"],
            cwd=PROJECT, env=worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def job_row(database_url: str, job_id: int) -> dict:
    with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10) as connection:
        connection.row_factory = sqlite3.Row
        return dict(connection.execute("SELECT * FROM backfill_jobs WHERE id = ?", (job_id,)).fetchone())


def wait_for(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
    return result


def test_a_worker_killed_mid_backfill_is_resumed_by_a_new_worker_without_duplicates(
    workers, worker_env, own_mongo, own_redis, subprocess_database, binance
):
    first = workers()
    created = subprocess.run(
        [sys.executable, "manage.py", "backfill", "BTCUSDT", "candles", "--timeframe", "1m",
         "--start", START.isoformat(), "--end", END.isoformat()],
        cwd=PROJECT, env=worker_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    job_id = int(created.stdout.split("#", 1)[1].split(":", 1)[0])

    wait_for(lambda: job_row(subprocess_database, job_id)["requests_made"] >= 3, timeout=60, what="three saved pages")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed = job_row(subprocess_database, job_id)
    assert killed["status"] == "running", killed
    cursor = datetime.fromisoformat(killed["cursor"]).replace(tzinfo=UTC)
    assert START < cursor < END, killed
    before = [int(request.params["startTime"]) for request in binance.requests_to(KLINES)]
    completed = {start for start in before if start < cursor.timestamp() * 1000}

    workers()
    heartbeat = datetime.fromisoformat(killed["heartbeat_at"]).replace(tzinfo=UTC)
    time.sleep(max(0.0, (heartbeat + timedelta(seconds=STALE_SECONDS + 0.5) - datetime.now(UTC)).total_seconds()))
    # Celery prefers a CELERY_BROKER_URL from the environment (CI sets one) to an app's broker: send on an
    # explicit connection to this test's own broker, where the workers listen.
    beat = Celery("resilience")
    with Connection(own_redis.url) as connection:
        beat.send_task("backfills.tasks.resume_stale_jobs", connection=connection)
    finished = wait_for(
        lambda: (row := job_row(subprocess_database, job_id))["status"] not in ("pending", "running") and row,
        timeout=240,  # the embedded store writes a few hundred upserts/s on a loaded 2-core machine
        what="the resumed job to finish",
    )
    beat.close()

    after = [int(request.params["startTime"]) for request in binance.requests_to(KLINES)][len(before) :]
    candles = own_mongo.database["candles_BTCUSDT_1m"]
    stored, distinct = candles.count_documents({}), len(candles.distinct("open_time"))
    refetched = completed & set(after)
    print(
        f"\n[worker-kill] SIGKILLed the worker's process group after {killed['requests_made']} saved pages "
        f"(cursor {cursor.isoformat()}, {killed['rows_inserted']} rows); resumed by a new worker with task "
        f"{finished['task_id'][:8]}: {len(after)} more requests, refetched completed pages {len(refetched)}; "
        f"job {finished['status']}: {finished['rows_fetched']} fetched, {finished['rows_inserted']} written, "
        f"{finished['rows_duplicate']} duplicate; stored candles {stored} ({distinct} distinct open times)"
    )
    assert finished["status"] == "succeeded", finished
    assert finished["task_id"] != killed["task_id"], "the job was not taken over by the new worker"
    assert finished["progress"] == 1.0
    assert after and after[0] == int(cursor.timestamp() * 1000), f"the resume did not start at the cursor: {after[:3]}"
    assert not refetched, f"completed pages fetched again: {sorted(refetched)}"
    assert (stored, distinct) == (CANDLES, CANDLES), f"stored {stored} candles, {distinct} distinct, want {CANDLES}"
