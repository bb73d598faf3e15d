"""Reads of the catalog: datasets and where their data came from."""

from django.db.models import Count, Max, Min, Sum

from petrosa_dm.market.naming import DataType

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


def catalog_last_updated():
    return Dataset.objects.aggregate(latest=Max("updated_at"))["latest"]


def _earlier_spellings(dataset_id: str) -> list[str]:
    """Collection names the earlier docs' spelling may mean: `candles_1h_btcusdt` -> `candles_BTCUSDT_1h`,
    `analytics_volatility_btcusdt` -> `analytics_BTCUSDT_volatility`, `trades_btcusdt` -> `trades_BTCUSDT`."""
    for data_type in sorted(DataType, key=lambda t: -len(t.value)):
        prefix = f"{data_type.value}_"
        if not dataset_id.lower().startswith(prefix):
            continue
        parts = dataset_id[len(prefix) :].split("_")
        if data_type in (DataType.CANDLES, DataType.ANALYTICS) and len(parts) == 2:
            first, second = parts
            # A lower-case `1m` is a minute: the month interval is `1M` in either spelling.
            return [f"{prefix}{second.upper()}_{first}", f"{prefix}{first.upper()}_{second}"]
        return [prefix + "_".join(parts).upper()]
    return []


def dataset_id_resolve(dataset_id: str) -> str:
    """The catalogued id `dataset_id` denotes: itself when catalogued, else its earlier spelling's collection."""
    if Dataset.objects.filter(dataset_id=dataset_id).exists():
        return dataset_id
    for candidate in _earlier_spellings(dataset_id):
        if Dataset.objects.filter(dataset_id=candidate).exists():
            return candidate
    return dataset_id
