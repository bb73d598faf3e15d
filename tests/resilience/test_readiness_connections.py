"""Finding 1: concurrent readiness probes must not use up the database's connections.

Runs the web service under gunicorn (as deployed: several workers, several threads each) against MariaDB with
`max_connections` lowered to 50, probes `/health/readiness` from 20 threads, and samples the server's open
connections meanwhile. Before the fix each probe left its pool thread's connection open: 210 connections after 20 s,
then readiness itself answered 503 "Too many connections".

The issue's figure is 60 s of probing; the test probes for DM_READINESS_PROBE_SECONDS (default 15 s, enough for
the leak to pass the limit several times over) so the suite stays short.
"""

import os
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest

from .web import gunicorn

pytestmark = pytest.mark.timeout(240)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
PROBERS = 20
MAX_CONNECTIONS = 50
# Connections the service may hold open while probed: gunicorn's workers, the test's own and a few in flight.
CONNECTION_BOUND = 12


def _mysql(url: str):
    import MySQLdb

    parts = urlparse(url)
    return MySQLdb.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username, password=parts.password or ""
    )


def _connected(cursor) -> int:
    cursor.execute("SHOW STATUS LIKE 'Threads_connected'")
    return int(cursor.fetchone()[1])


@pytest.fixture
def low_max_connections():
    if not DATABASE_URL.startswith("mysql"):
        pytest.skip("needs DATABASE_URL pointing at MySQL/MariaDB (as in CI) to count the server's connections")
    admin = _mysql(DATABASE_URL)
    cursor = admin.cursor()
    cursor.execute("SELECT @@GLOBAL.max_connections")
    previous = int(cursor.fetchone()[0])
    cursor.execute(f"SET GLOBAL max_connections = {MAX_CONNECTIONS}")
    try:
        yield cursor
    finally:
        cursor.execute(f"SET GLOBAL max_connections = {previous}")
        admin.close()


@pytest.fixture
def web(mongo_available, tmp_path):
    env = {"DATABASE_URL": DATABASE_URL, "READINESS_REQUIRED": "database,mongodb"}
    env["CELERY_BROKER_URL"] = os.environ.get("CELERY_BROKER_URL", "memory://")
    with gunicorn(tmp_path / "gunicorn.log", **env) as url:
        yield url


def test_twenty_concurrent_readiness_probers_neither_leak_connections_nor_see_503(low_max_connections, web):
    duration = float(os.environ.get("DM_READINESS_PROBE_SECONDS", "15"))
    cursor = low_max_connections
    baseline = _connected(cursor)
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def probe() -> None:
        while time.monotonic() < stop:
            try:
                with urllib.request.urlopen(f"{web}/health/readiness", timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
                errors.append(exc.read().decode(errors="replace")[:300])
            except OSError as exc:
                status = 0
                errors.append(str(exc))
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=probe) for _ in range(PROBERS)]
    for thread in threads:
        thread.start()
    peak = baseline
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, _connected(cursor))
        time.sleep(0.5)
    for thread in threads:
        thread.join()

    print(f"readiness for {duration:.0f} s x {PROBERS} probers: {statuses}, connections {baseline} -> peak {peak}")
    assert set(statuses) == {200}, (statuses, errors[:3])
    assert statuses[200] > PROBERS
    assert peak - baseline <= CONNECTION_BOUND, f"{peak - baseline} connections opened by probing"
