"""Idempotent bulk writes of time-series rows: the one write path for the consumer, backfills and analytics.

Every row is written with its idempotency key as `_id` (`ingestion.keys`), whoever built it (the stream parser,
REST backfills, analytics, the store migration). Insert-only types (trades, depth, mark prices, tickers, ...) are
inserted unordered; a duplicate-key error is a row we already hold, counted as a duplicate, never a failure.
Versioned types (candles, funding rates, analytics) are upserted on the same `_id` with the rule "the newer event
wins": the update matches only a stored row with an older `event_time` (or `computed_at`), so an older update
arriving late collides with the stored `_id` instead and is counted as a duplicate. Redelivery and out-of-order
delivery therefore leave the same stored state.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure

from petrosa_dm import mongo
from petrosa_dm.market.naming import DataType, SeriesRef

from . import edges
from .documents import index_specs
from .keys import forget_keyed, id_builder, key_fields

DUPLICATE_KEY = 11000
# Versioned types: which field orders the versions of one key.
VERSION_FIELD = {
    DataType.CANDLES: "event_time",
    DataType.FUNDING_RATES: "event_time",
    DataType.ANALYTICS: "computed_at",
}

INDEX_CONFLICTS = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict
_indexed: set[tuple[str, str]] = set()
_legacy: set[tuple[str, str]] = set()
logger = logging.getLogger(__name__)


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0

    def __iadd__(self, other: "WriteResult") -> "WriteResult":
        self.inserted += other.inserted
        self.updated += other.updated
        self.duplicates += other.duplicates
        return self

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def collection(ref: SeriesRef) -> Collection:
    """The series' collection, with its indexes ensured once per process."""
    database = mongo.database()
    marker = (database.name, ref.collection)
    if marker not in _indexed:
        if not ensure_indexes(database[ref.collection], ref.data_type):
            _legacy.add(marker)
        _indexed.add(marker)
    return database[ref.collection]


def ensure_indexes(target: Collection, data_type: DataType) -> bool:
    """Build the type's indexes; False when the collection still has the unique key index of the layout before
    keys moved into `_id` (`manage.py migrate_store` has not run on it), which is then kept as it is."""
    models = []
    for spec in index_specs(data_type):
        keys = [(field, ASCENDING if direction == 1 else DESCENDING) for field, direction in spec["fields"]]
        models.append(IndexModel(keys, unique=bool(spec.get("unique"))))
    try:
        target.create_indexes(models)
        return True
    except OperationFailure as exc:
        if exc.code not in INDEX_CONFLICTS:
            raise
    # A time index the old layout made unique (candles, funding, mark prices, tickers): keep it until migrated.
    unique = {tuple(index["key"]) for index in target.index_information().values() if index.get("unique")}
    target.create_indexes([model for model in models if tuple(model.document["key"].items()) not in unique])
    logger.warning("collection %s has the pre-migration unique index: run manage.py migrate_store", target.name)
    return False


def forget_legacy(target: Collection) -> None:
    """The collection was migrated (`ingestion.migration`): write it the keyed way from now on."""
    _legacy.discard((target.database.name, target.name))


def is_legacy(target: Collection) -> bool:
    """Whether this process found the collection in the layout before keys moved into `_id`."""
    return (target.database.name, target.name) in _legacy


def forget_indexes() -> None:
    """Forget which collections were indexed, seen keyed or seen large (after collections are dropped, e.g.
    between tests)."""
    _indexed.clear()
    _legacy.clear()
    forget_keyed()
    edges.forget_sizes()


def bulk_operations(data_type: DataType, rows: Iterable[dict], *, legacy: bool = False) -> list:
    """The bulk-write operations that store `rows` (bench/ingest.py times them against the whole pipeline).

    `legacy` (a collection not migrated yet) matches versioned rows by their key fields, so a stored row with an
    ObjectId `_id` is still updated in place; a new row gets its key as `_id`. Correct on both layouts."""
    key = id_builder(data_type)
    version = VERSION_FIELD.get(data_type)
    if version is None:
        operations = []
        for row in rows:
            # The key goes into the row itself, as insert_many would put a generated ObjectId there.
            row["_id"] = key(row)
            operations.append(InsertOne(row))
        return operations
    if legacy:
        fields = key_fields(data_type)
        return [
            UpdateOne(
                {**{name: row[name] for name in fields}, version: {"$lt": row[version]}},
                {"$set": _without_id(row), "$setOnInsert": {"_id": key(row)}},
                upsert=True,
            )
            for row in rows
        ]
    # An upsert takes its `_id` from the filter; `$set` must not name `_id`.
    return [
        UpdateOne({"_id": key(row), version: {"$lt": row[version]}}, {"$set": _without_id(row)}, upsert=True)
        for row in rows
    ]


def _without_id(row: dict) -> dict:
    if "_id" not in row:
        return row
    row = dict(row)
    del row["_id"]
    return row


def write_rows(ref: SeriesRef, rows: list[dict], *, mostly_new: bool = False) -> WriteResult:
    """Write rows of one series; raises only for failures other than duplicates (e.g. the store being down).

    `mostly_new` (a backfill of a range we lack) inserts first and upserts only the rows whose key is already
    stored: the same outcome, with far fewer upserts, which cost several inserts each.
    """
    if not rows:
        return WriteResult()
    if mostly_new and ref.data_type in VERSION_FIELD:
        return _insert_then_upsert(ref, rows)
    target = collection(ref)
    try:
        operations = bulk_operations(ref.data_type, rows, legacy=is_legacy(target))
        result = target.bulk_write(operations, ordered=False)
    except BulkWriteError as exc:
        details = exc.details
        errors = details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors) or details.get("writeConcernErrors"):
            raise
        return WriteResult(
            inserted=details.get("nInserted", 0) + details.get("nUpserted", 0),
            updated=details.get("nModified", 0),
            duplicates=len(errors),
        )
    return WriteResult(
        inserted=result.inserted_count + result.upserted_count,
        updated=result.modified_count,
        duplicates=len(rows) - result.inserted_count - result.upserted_count - result.modified_count,
    )


def _insert_then_upsert(ref: SeriesRef, rows: list[dict]) -> WriteResult:
    key = id_builder(ref.data_type)
    try:
        # Copies: the caller's rows stay as they were, and an upsert must not `$set` an `_id`.
        collection(ref).insert_many([{**row, "_id": key(row)} for row in rows], ordered=False)
    except BulkWriteError as exc:
        details = exc.details
        errors = details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors) or details.get("writeConcernErrors"):
            raise
        result = write_rows(ref, [rows[error["index"]] for error in errors])
        result.inserted += details.get("nInserted", 0)
        return result
    return WriteResult(inserted=len(rows))
