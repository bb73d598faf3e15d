"""The one MongoDB connection of the process.

Every operation is bounded in time (issue 15, finding 3): `timeoutMS` (MONGODB_MAX_TIME_MS, a generous backstop
for whole-series scans) is pymongo's client-side operation timeout, which also sends the remaining time to the
server as `maxTimeMS`, and `socketTimeoutMS` (MONGODB_SOCKET_TIMEOUT_MS) bounds socket reads, so a frozen store
fails an operation instead of holding its thread for ever. API requests and the consumer's batch writes set
tighter deadlines of their own with `pymongo.timeout()` (API_STORE_TIMEOUT_MS, CONSUMER_STORE_TIMEOUT_MS).

mongoengine owns the client (registered once from MONGODB_URL, timezone-aware, standard UUIDs); code that needs
pymongo directly (bulk writes, aggregations) asks this module for the same client, so each process holds one pool.
"""

import logging
import time

import mongoengine
import pymongo
from django.conf import settings
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

DEFAULT_DATABASE = "petrosa_dm"


def register_connection() -> None:
    # connect=False keeps the client lazy, so forking servers (gunicorn, Celery prefork) fork before connecting.
    max_time_ms = settings.MONGODB_MAX_TIME_MS
    mongoengine.disconnect()
    mongoengine.connect(
        host=settings.MONGODB_URL,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        connectTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        # A socket read never outlives the operation's own time limit.
        socketTimeoutMS=max(settings.MONGODB_SOCKET_TIMEOUT_MS, max_time_ms + 2000),
        timeoutMS=max_time_ms,
        connect=False,
    )


def client() -> MongoClient:
    return mongoengine.get_connection()


class StoreUnavailable(ConnectionFailure):
    """The store timed out moments ago: answer at once instead of holding another thread for the full timeout."""


# Monotonic time until which API reads fail fast (set by the API's error handler after a store timeout).
_unavailable_until = 0.0


def mark_unavailable() -> None:
    global _unavailable_until
    _unavailable_until = time.monotonic() + settings.MONGODB_FAIL_FAST_SECONDS


def fail_fast() -> None:
    """Raise StoreUnavailable while the store is known to be stalled (API requests; see mark_unavailable)."""
    if time.monotonic() < _unavailable_until:
        raise StoreUnavailable("the store timed out moments ago; retry shortly")


def shown(collection: Collection) -> Collection:
    """The collection decoding times as naive UTC datetimes, for rows that are only shown (the data API pages):
    the client's timezone-aware decoding makes pymongo attach a tzinfo to every datetime, about 0.8 us each.
    Code that compares or writes such times must make them aware first (`timeutils.ensure_utc`)."""
    return collection.with_options(codec_options=collection.codec_options.with_options(tz_aware=False))


def database() -> Database:
    return client().get_default_database(default=DEFAULT_DATABASE)


def ping() -> None:
    """Raise if the store does not answer within MONGODB_TIMEOUT_MS."""
    client().admin.command("ping")


PROBE_COLLECTION = "dead_letters"


def probe_read() -> None:
    """A real read of one document, bounded by MONGODB_TIMEOUT_MS: what readiness asks of the store."""
    timeout = settings.MONGODB_TIMEOUT_MS
    with pymongo.timeout(timeout / 1000):
        database()[PROBE_COLLECTION].find_one({}, projection={"_id": 1})


logger = logging.getLogger(__name__)


def within_timeout(read, *, fallback, giving_up: str):
    """`read()` given at most MONGODB_TIMEOUT_MS; past it, `fallback`, and a warning "no time to <giving_up>".

    For reads the embedded store can only answer by scanning a whole collection, where an approximate or unknown
    answer beats holding up the caller for minutes. Other store errors raise."""
    try:
        with pymongo.timeout(settings.MONGODB_TIMEOUT_MS / 1000):
            return read()
    except PyMongoError as exc:
        if not exc.timeout:
            raise
    logger.warning("no time to %s", giving_up)
    return fallback
