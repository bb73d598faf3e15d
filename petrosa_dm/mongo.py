"""The one MongoDB connection of the process.

Every operation is bounded in time (issue 15, finding 3): `timeoutMS` (MONGODB_MAX_TIME_MS) is pymongo's
client-side operation timeout, which also sends the remaining time to the server as `maxTimeMS`, and
`socketTimeoutMS` (MONGODB_SOCKET_TIMEOUT_MS) bounds every socket read, so a frozen store fails an operation
instead of holding its thread for ever.

mongoengine owns the client (registered once from MONGODB_URL, timezone-aware, standard UUIDs); code that needs
pymongo directly (bulk writes, aggregations) asks this module for the same client, so each process holds one pool.
"""

import mongoengine
import pymongo
from django.conf import settings
from pymongo import MongoClient
from pymongo.database import Database

DEFAULT_DATABASE = "petrosa_dm"


def register_connection() -> None:
    # connect=False keeps the client lazy, so forking servers (gunicorn, Celery prefork) fork before connecting.
    mongoengine.disconnect()
    mongoengine.connect(
        host=settings.MONGODB_URL,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        connectTimeoutMS=settings.MONGODB_TIMEOUT_MS,
        socketTimeoutMS=settings.MONGODB_SOCKET_TIMEOUT_MS,
        timeoutMS=settings.MONGODB_MAX_TIME_MS,
        connect=False,
    )


def client() -> MongoClient:
    return mongoengine.get_connection()


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
