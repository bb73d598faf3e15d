"""Reads of the catalog: datasets and where their data came from."""

from django.db.models import Count, Max, Min, Sum

from .models import Dataset, LineageRecord

RECENT_LINEAGE = 20


def dataset_list():
    return Dataset.objects.all().order_by("dataset_id")


def dataset_record_count(*, dataset_id: str) -> int | None:
    """The record count of an active, synced dataset, or None."""
    return (
        Dataset.objects.filter(dataset_id=dataset_id, status=Dataset.Status.ACTIVE, synced_at__isnull=False)
        .values_list("record_count", flat=True)
        .first()
    )


def dataset_lineage(*, dataset: Dataset) -> dict:
    """Upstream sources (aggregated per source and transformation), the latest records, and downstream datasets.

    The consumer and backfills write a record per batch or job, so the sources are aggregated rather than listed.
    """
    upstream = (
        LineageRecord.objects.filter(dataset=dataset)
        .values("source_type", "source", "transformation", "input_dataset_id")
        .annotate(
            records=Count("id"),
            record_count=Sum("record_count"),
            start_time=Min("start_time"),
            end_time=Max("end_time"),
            last_recorded_at=Max("created_at"),
        )
        .order_by("source_type", "source", "transformation", "input_dataset_id")
    )
    downstream = (
        LineageRecord.objects.filter(input_dataset=dataset)
        .values("dataset_id", "transformation")
        .annotate(records=Count("id"), last_recorded_at=Max("created_at"))
        .order_by("dataset_id", "transformation")
    )
    recent = LineageRecord.objects.filter(dataset=dataset).order_by("-created_at", "-id")[:RECENT_LINEAGE]
    return {
        "dataset_id": dataset.dataset_id,
        "upstream": [{**row, "input_dataset": row.pop("input_dataset_id")} for row in upstream],
        "downstream": list(downstream),
        "recent": list(recent),
    }
