"""Writes to the catalog: datasets and their lineage."""

from datetime import datetime

from django.db import IntegrityError, transaction

from ingestion.naming import DataType, SeriesRef

from .models import Dataset, LineageRecord


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
