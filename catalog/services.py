"""Writes to the catalog: datasets, their discovery from MongoDB, and their lineage."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from ingestion import selectors as series_selectors
from petrosa_dm import mongo
from petrosa_dm.market.naming import DataType, SeriesRef, parse_collection
from petrosa_dm.market.timeutils import utcnow

from .inference import infer_schema, median_spacing_seconds
from .models import Dataset, LineageRecord

logger = logging.getLogger(__name__)


def _describe(ref: SeriesRef) -> dict:
    category = Dataset.Category.ANALYTICS if ref.data_type is DataType.ANALYTICS else Dataset.Category.MARKET_DATA
    label = ref.data_type.value.replace("_", " ")
    suffix = f" {ref.interval or ref.metric}" if (ref.interval or ref.metric) else ""
    return {
        "name": f"{ref.symbol} {label}{suffix}",
        "category": category,
        "data_type": ref.data_type.value,
        "symbol": ref.symbol,
        "timeframe": ref.interval or "",
    }


def dataset_ensure(*, ref: SeriesRef) -> tuple[Dataset, bool]:
    """The Dataset row of a series, created on first sight; returns (dataset, created)."""
    try:
        with transaction.atomic():
            return Dataset.objects.get_or_create(dataset_id=ref.collection, defaults=_describe(ref))
    except IntegrityError:  # another process created it between our read and insert
        return Dataset.objects.get(dataset_id=ref.collection), False


def dataset_rows_added(*, ref: SeriesRef, added: int, newest: datetime | None = None) -> None:
    """Rows a writer (a backfill, an analytics run) has just added, counted into the dataset's figures at once, so
    the console does not show the last sync's count until the next one (which recounts them all)."""
    if added <= 0:
        return
    updates = {"record_count": F("record_count") + added}
    if newest is not None:
        updates["last_timestamp"] = Greatest(Coalesce("last_timestamp", Value(newest)), Value(newest))
    # One UPDATE a page in the common case; the Dataset row is made only the first time.
    if not Dataset.objects.filter(pk=ref.collection).update(**updates):
        dataset_ensure(ref=ref)
        Dataset.objects.filter(pk=ref.collection).update(**updates)


def lineage_record_create(
    *,
    ref: SeriesRef,
    source_type: str,
    source: str,
    transformation: str,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    record_count: int = 0,
    input_ref: SeriesRef | None = None,
    job=None,
    details: dict | None = None,
) -> LineageRecord:
    dataset, _ = dataset_ensure(ref=ref)
    input_dataset = dataset_ensure(ref=input_ref)[0] if input_ref else None
    return LineageRecord.objects.create(
        dataset=dataset,
        source_type=source_type,
        source=source,
        input_dataset=input_dataset,
        transformation=transformation,
        start_time=start_time,
        end_time=end_time,
        record_count=record_count,
        job=job,
        details=details or {},
    )


@dataclass(frozen=True)
class CatalogSync:
    discovered: int
    created: int
    updated: int
    vanished: int

    def summary(self) -> str:
        return (
            f"catalog synced: {self.discovered} collections ({self.created} new, {self.updated} updated), "
            f"{self.vanished} vanished"
        )


def expected_cadence_seconds(*, ref: SeriesRef, sample: list[dict]) -> float | None:
    """Candles: the interval (a month counts 30 days). Others: the median spacing of the newest rows' times."""
    if ref.data_type is DataType.CANDLES:
        return series_selectors.nominal_cadence_seconds(ref.interval)
    field = series_selectors.TIME_FIELDS[ref.data_type]
    return median_spacing_seconds([row.get(field) for row in sample])


def dataset_sync(*, ref: SeriesRef) -> tuple[Dataset, bool]:
    """Refresh one dataset's figures from its collection; returns (dataset, created)."""
    dataset, created = dataset_ensure(ref=ref)
    sample = series_selectors.series_newest(ref=ref, size=settings.CATALOG_SAMPLE_SIZE)
    first, last = series_selectors.series_bounds(ref=ref)
    dataset.record_count = series_selectors.series_collection(ref=ref).estimated_document_count()
    dataset.first_timestamp, dataset.last_timestamp = first, last
    dataset.schema = infer_schema(sample)
    dataset.expected_cadence_seconds = expected_cadence_seconds(ref=ref, sample=sample)
    dataset.status = Dataset.Status.ACTIVE
    dataset.synced_at = utcnow()
    dataset.save()
    return dataset, created


def sync_catalog() -> CatalogSync:
    """Discover every time-series collection by the naming rules, refresh its Dataset, mark vanished ones."""
    refs = [ref for name in sorted(mongo.database().list_collection_names()) if (ref := parse_collection(name))]
    created = 0
    for ref in refs:
        created += dataset_sync(ref=ref)[1]
    vanished = (
        Dataset.objects.filter(status=Dataset.Status.ACTIVE)
        .exclude(dataset_id__in=[ref.collection for ref in refs])
        .update(status=Dataset.Status.VANISHED, synced_at=utcnow())
    )
    result = CatalogSync(discovered=len(refs), created=created, updated=len(refs) - created, vanished=vanished)
    logger.info(result.summary(), extra={"datasets_created": created, "datasets_vanished": vanished})
    return result
