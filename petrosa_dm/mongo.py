"""The one MongoDB connection of the process.

mongoengine owns the client (registered once from MONGODB_URL, timezone-aware, standard UUIDs); code that needs
pymongo directly (bulk writes, aggregations) asks this module for the same client, so each process holds one pool.
"""

import mongoengine
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
        connect=False,
    )


def client() -> MongoClient:
    return mongoengine.get_connection()


def database() -> Database:
    return client().get_default_database(default=DEFAULT_DATABASE)


def ping() -> None:
    """Raise if the store does not answer within MONGODB_TIMEOUT_MS."""
    client().admin.command("ping")
