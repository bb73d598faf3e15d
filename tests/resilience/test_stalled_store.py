"""Finding 3: a stalled store (its process stopped with SIGSTOP: sockets stay open, nothing answers) must not hang
the service.

Before the fix no store operation had a timeout: eight slow `/data/*` requests took every gunicorn thread, liveness
timed out, readiness said "healthy" (it only pinged), and the consumer ignored SIGTERM for over 55 s.

Here the web service runs under gunicorn (2 workers x 4 threads) and the consumer as `manage.py consume`, both on
the test's own embedded store, which is stopped for DM_STALL_SECONDS (default 12 s; the issue's figure is 30 s)
while 8 clients keep reading `/data/trades`. Asserted: every read answers 503 in the JSON error shape within the
configured time limit, liveness stays 200 throughout, readiness reports the store down, the consumer exits within
its grace on SIGTERM, and a message published during the stall is stored once the store is back.
"""

import asyncio
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from .test_hostile_messages import publish, trade, wait_for
from .web import gunicorn

pytestmark = pytest.mark.timeout(240)

MAX_TIME_MS = 2000
GRACE_SECONDS = 5
READERS = 8


def get(url: str, timeout: float = 15) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        return 0, {"error": str(exc)}, time.monotonic() - started
    return status, json.loads(body or b"{}"), time.monotonic() - started


def test_a_stopped_store_gives_quick_503s_live_liveness_and_a_consumer_that_stops_in_time(
    pipeline, own_mongo, subprocess_database, tmp_path
):
    stall = float(os.environ.get("DM_STALL_SECONDS", "12"))
    timeouts = {"CONSUMER_STORE_TIMEOUT_MS": str(MAX_TIME_MS), "MONGODB_TIMEOUT_MS": "500"}
    consumer = pipeline.consumer(CONSUMER_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS), **timeouts)
    # The web service keeps the default process-wide limit; its requests have their own deadline.
    web_timeouts = {"API_STORE_TIMEOUT_MS": str(MAX_TIME_MS), "MONGODB_TIMEOUT_MS": "500"}
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, [trade(1)]))
    trades = pipeline.database["trades_BTCUSDT"]
    wait_for(lambda: trades.count_documents({}) == 1, timeout=60, what="the first trade")

    env = {"DATABASE_URL": subprocess_database, "MONGODB_URL": own_mongo.url, "READINESS_REQUIRED": "database,mongodb"}
    with gunicorn(tmp_path / "gunicorn.log", **env, **web_timeouts) as web:
        data_url = f"{web}/data/trades?pair=BTCUSDT"
        assert get(data_url)[0] == 200

        reads: list[tuple[int, dict, float]] = []
        probes: list[tuple[int, dict, float]] = []
        os.kill(own_mongo.executor.process.pid, signal.SIGSTOP)
        stalled_at = time.monotonic()
        try:
            until = stalled_at + stall

            def reader() -> None:
                while time.monotonic() < until:
                    reads.append(get(data_url))

            def prober() -> None:
                while time.monotonic() < until:
                    probes.append(get(f"{web}/health/liveness", timeout=5))
                    time.sleep(0.25)

            threads = [threading.Thread(target=reader) for _ in range(READERS)] + [threading.Thread(target=prober)]
            for thread in threads:
                thread.start()
            time.sleep(1)
            readiness = get(f"{web}/health/readiness")
            asyncio.run(publish(options.nats_url, options.subject, [trade(2)]))
            time.sleep(1)
            consumer.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            consumer.wait(timeout=GRACE_SECONDS + MAX_TIME_MS / 1000 + 30)
            stopped_in = time.monotonic() - stopping
            for thread in threads:
                thread.join()
        finally:
            os.kill(own_mongo.executor.process.pid, signal.SIGCONT)
        stalled_for = time.monotonic() - stalled_at

        statuses = {status for status, _body, _elapsed in reads}
        slowest_read = max(elapsed for _status, _body, elapsed in reads)
        slowest_probe = max(elapsed for _status, _body, elapsed in probes)
        print(f"\n[stall] store stopped {stalled_for:.1f} s: {len(reads)} reads {statuses}, "
              f"slowest {slowest_read:.2f} s; {len(probes)} liveness probes, slowest {slowest_probe:.2f} s; "
              f"consumer stopped {stopped_in:.1f} s after SIGTERM")  # fmt: skip
        assert statuses == {503}, reads[:3]
        assert all(body.get("detail") for _status, body, _elapsed in reads)
        assert slowest_read < MAX_TIME_MS / 1000 + 2
        assert {status for status, _body, _elapsed in probes} == {200}
        assert slowest_probe < MAX_TIME_MS / 1000 + 1
        assert readiness[0] == 503 and readiness[1]["components"]["mongodb"]["status"] == "unhealthy"
        assert stopped_in < GRACE_SECONDS + 1, pipeline.consumer_log(0)
        assert consumer.returncode == 0, pipeline.consumer_log(0)

        # The store is back: reads answer again and the message published during the stall is stored.
        pipeline.consumer(**timeouts)
        wait_for(lambda: trades.count_documents({}) == 2, timeout=60, what="the trade published during the stall")
        wait_for(lambda: get(data_url)[0] == 200, timeout=30, what="reads to answer again")
