"""Writes of the ingestion pipeline: a parsed batch into the store, dead letters, first-sight lineage."""

import logging
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from django.conf import settings
from django.db import close_old_connections
from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure

from catalog.models import LineageRecord
from catalog.services import lineage_record_create
from petrosa_dm import mongo
from petrosa_dm.market.naming import SeriesRef

from . import metrics, store
from .batches import Batch
from .store import WriteResult

logger = logging.getLogger(__name__)

DEAD_LETTERS = "dead_letters"
INDEX_OPTIONS_CONFLICT = 85

_lineage_known: set[str] = set()
_dead_letters_indexed: set[str] = set()


def batch_store(*, batch: Batch, executor: ThreadPoolExecutor | None = None) -> WriteResult:
    """Write every row and dead letter of a batch; raises (nothing acked) if any write fails.

    Collections are written concurrently when an executor is given: each bulk write waits on the store's round
    trip, and a batch usually spans several collections (book tickers, trades, depth, candles of each symbol)."""
    if batch.dead_letters:
        dead_letters_store(letters=batch.dead_letters)
    series = list(batch.rows.items())
    if executor is None or len(series) < 2:
        results = [_write_series(ref, rows) for ref, rows in series]
    else:
        results = list(executor.map(lambda item: _write_series(*item), series))
    total = WriteResult()
    for result in results:
        total += result
    return total


def _write_series(ref: SeriesRef, rows: list[dict]) -> WriteResult:
    started = perf_counter()
    result = store.write_rows(ref, rows)
    data_type = ref.data_type.value
    metrics.write_seconds.labels(data_type).observe(perf_counter() - started)
    metrics.rows_written.labels(data_type).inc(result.written)
    metrics.duplicates.labels(data_type).inc(result.duplicates)
    return result


def dead_letters_store(*, letters: list[dict]) -> int:
    """Insert dead letters; those already stored (same `_id`: a redelivered message) are skipped. Returns how
    many were new."""
    target = _dead_letters()
    # insert_many fills in a missing _id on the dicts; copies keep a retried batch free of ids from a failed try.
    try:
        inserted = len(target.insert_many([dict(letter) for letter in letters], ordered=False).inserted_ids)
    except BulkWriteError as exc:
        if any(error.get("code") != store.DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
            raise
        inserted = exc.details.get("nInserted", 0)
    metrics.dead_letters.inc(inserted)
    return inserted


def _dead_letters() -> Collection:
    database = mongo.database()
    target = database[DEAD_LETTERS]
    if database.name not in _dead_letters_indexed:
        _ensure_dead_letter_indexes(target)
        _dead_letters_indexed.add(database.name)
    return target


def _ensure_dead_letter_indexes(target: Collection) -> None:
    ttl = settings.DEAD_LETTER_TTL_SECONDS
    try:
        target.create_indexes(
            [IndexModel([("received_at", ASCENDING)], expireAfterSeconds=ttl), IndexModel([("reason", ASCENDING)])]
        )
    except OperationFailure as exc:
        if exc.code != INDEX_OPTIONS_CONFLICT:
            raise
        # DEAD_LETTER_TTL_SECONDS changed since the index was built: change the TTL in place.
        target.database.command(
            "collMod", target.name, index={"keyPattern": {"received_at": 1}, "expireAfterSeconds": ttl}
        )


def forget_indexes() -> None:
    """Forget which databases have their dead-letter indexes (after collections are dropped, e.g. in tests)."""
    _dead_letters_indexed.clear()


def ingest_lineage_ensure(*, refs: list[SeriesRef], subject: str) -> list[SeriesRef]:
    """Record the NATS subject as the source of each dataset the first time it receives data (once per dataset,
    checked in the database and remembered in the process); returns the datasets recorded now.

    Lineage is metadata: a failure is logged and retried with the next batch, and never holds back market data."""
    recorded = []
    for ref in refs:
        if ref.collection in _lineage_known:
            continue
        try:
            close_old_connections()
            if not LineageRecord.objects.filter(
                dataset_id=ref.collection,
                source_type=LineageRecord.SourceType.NATS_SUBJECT,
                transformation=LineageRecord.Transformation.INGEST,
            ).exists():
                lineage_record_create(
                    ref=ref,
                    source_type=LineageRecord.SourceType.NATS_SUBJECT,
                    source=subject,
                    transformation=LineageRecord.Transformation.INGEST,
                    details={"consumer": settings.NATS_DURABLE_NAME},
                )
                recorded.append(ref)
        except Exception:
            logger.exception("could not record lineage", extra={"dataset_id": ref.collection, "subject": subject})
            continue
        _lineage_known.add(ref.collection)
    return recorded


def forget_lineage() -> None:
    """Forget which datasets have their lineage (after the metadata database is reset, e.g. in tests)."""
    _lineage_known.clear()
