import pytest

from backfills.testing.archive_server import ArchiveTestServer
from backfills.testing.binance_server import BinanceTestServer
from petrosa_dm.celery import app as celery_app


@pytest.fixture
def binance(settings):
    """Start a local Binance test server and point the backfiller at it, with short windows and backoffs.

    `binance(**options)` returns the started server; options are BinanceTestServer's.
    """
    servers = []

    def start(**options) -> BinanceTestServer:
        options.setdefault("window_seconds", 2.0)
        server = BinanceTestServer(**options).start()
        servers.append(server)
        settings.BINANCE_FUTURES_BASE_URL = server.url
        settings.BINANCE_WEIGHT_WINDOW_SECONDS = server.window_seconds
        settings.BINANCE_READ_TIMEOUT = 0.5
        settings.BINANCE_BACKOFF_INITIAL = 0.05
        settings.BINANCE_BACKOFF_MAX = 0.2
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_archive(settings):
    """Start local Binance archive servers (`start_archive(**options)`, options are ArchiveTestServer's) and point
    the archive source at the latest, with short read timeouts and backoffs."""
    servers = []

    def start(**options) -> ArchiveTestServer:
        server = ArchiveTestServer(**options).start()
        servers.append(server)
        settings.BINANCE_ARCHIVE_BASE_URL = server.url
        settings.ARCHIVE_READ_TIMEOUT = 0.5
        settings.BINANCE_BACKOFF_INITIAL = 0.05
        settings.BINANCE_BACKOFF_MAX = 0.2
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def eager_celery():
    """Run enqueued tasks in-process, so a created job runs when its transaction commits."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous
