"""Fixtures for the real services the suite runs against.

A test that needs a service that is not reachable is skipped with the reason, unless DM_REQUIRE_SERVICES=1
(as in CI), where it fails instead.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"
# Tests never download from Binance's public archives: archives are off (auto = REST) unless a test points
# BINANCE_ARCHIVE_BASE_URL at its local archive server. The environment carries it to processes tests start.
os.environ.setdefault("BINANCE_ARCHIVE_BASE_URL", "")


@pytest.fixture(autouse=True)
def _archives_off_by_default(settings):
    settings.BINANCE_ARCHIVE_BASE_URL = os.environ["BINANCE_ARCHIVE_BASE_URL"]


def _unavailable(what: str) -> None:
    if os.environ.get("DM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (DM_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"recorded Binance data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def subprocess_database(tmp_path_factory) -> str:
    """A migrated SQLite file for processes the tests start (consumers, workers, commands): the test's own
    database may be in memory, out of their reach."""
    url = f"sqlite:///{tmp_path_factory.mktemp('subprocess-db') / 'db.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=Path(__file__).resolve().parent,
        env=os.environ | {"DATABASE_URL": url},
        check=True,
        timeout=180,
    )
    return url


@pytest.fixture(scope="session")
def mongo_available() -> None:
    from petrosa_dm import mongo

    try:
        mongo.ping()
    except Exception as exc:
        _unavailable(f"MongoDB at {settings.MONGODB_URL} ({exc})")


@pytest.fixture
def mongo_db(mongo_available):
    """The time-series database, emptied after the test."""
    from ingestion import store
    from petrosa_dm import mongo

    database = mongo.database()
    yield database
    for name in database.list_collection_names():
        database.drop_collection(name)
    store.forget_indexes()
    # What the process cached about the dropped collections (order-book anchors and diff chunks) goes with them.
    from books import selectors as book_selectors
    from books import store as book_store

    book_selectors.forget_cache()
    book_store.forget_indexes()


@pytest.fixture(scope="session")
def nats_url() -> str:
    import asyncio

    import nats

    url = os.environ.get("NATS_URL") or ""

    async def probe() -> None:
        client = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
        await client.close()

    if not url:
        _unavailable("NATS (NATS_URL unset and no nats-server installed)")
    try:
        asyncio.run(probe())
    except Exception as exc:
        _unavailable(f"NATS at {url} ({exc})")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = os.environ.get("REDIS_URL") or ""
    if not url:
        _unavailable("Redis (REDIS_URL unset and no redis-server installed)")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis at {url} ({exc})")
    return url


@pytest.fixture
def wsgi_keeps_test_connection():
    """Requests sent straight to the WSGI app (schemathesis) must not close the test's database connection.

    Django closes connections at request end (`close_old_connections`), which inside a test's transaction means
    closing that transaction: a no-op on in-memory SQLite, "server has gone away" on MySQL. Django's own test client
    disconnects the handler for the same reason; this does it for other WSGI callers.
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Every test starts with no request counted against the read throttle and no admin action marked as queued
    (issue 15): the suite's own requests all come from one address."""
    from django.core.cache import caches

    caches["throttle"].clear()
    caches["locks"].clear()
