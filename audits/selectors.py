"""Reads for the health endpoints: the latest real audit figures, never invented ones."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Sum

from catalog.models import Dataset
from petrosa_dm import mongo
from petrosa_dm.market.naming import DataType, parse_collection, series

from . import health
from .models import Gap, HealthMetric

WORST = 5
NOT_AUDITED = "no audit has run yet: health figures appear after the first audit (manage.py audit, or the schedule)"
# Ingestion rate basis: each audit counts its dataset's rows the consumer received (`ingested_at`, source `stream`)
# in the hour before the audit; the summary adds up the counts measured within the last hour. Receive time, so a
# replay of old captures counts as it arrives; source `stream`, so a backfill of old history does not.
RATE_BASIS = "rows the consumer received within the hour before each dataset's latest audit (audits in the last hour)"


class UnknownPair(LookupError):
    pass


def _gap_counts(dataset_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    gaps = Gap.objects.all() if dataset_ids is None else Gap.objects.filter(dataset_id__in=dataset_ids)
    counts: dict[str, dict[str, int]] = {}
    for row in gaps.values("dataset_id", "status").annotate(count=Count("id"), missing=Sum("missing_count")):
        entry = counts.setdefault(row["dataset_id"], {})
        entry[row["status"]] = row["count"]
        if row["status"] in (Gap.Status.OPEN, Gap.Status.BACKFILLING):
            entry["missing_rows"] = entry.get("missing_rows", 0) + int(row["missing"] or 0)
    return counts


def _open(counts: dict[str, int]) -> int:
    return counts.get(Gap.Status.OPEN, 0) + counts.get(Gap.Status.BACKFILLING, 0)


def _dataset_entry(dataset: Dataset, counts: dict[str, int], metric: HealthMetric | None) -> dict:
    entry = {
        "dataset_id": dataset.dataset_id,
        "data_type": dataset.data_type,
        "timeframe": dataset.timeframe,
        "audited": metric is not None,
        "audited_at": dataset.audited_at,
        "band": health.band(metric.quality_score if metric else None),
        "open_gaps": _open(counts),
        "missing_rows": counts.get("missing_rows", 0),
        "unfillable_gaps": counts.get(Gap.Status.UNFILLABLE, 0),
    }
    if metric is not None:
        entry.update(
            health_score=metric.quality_score,
            completeness=metric.completeness,
            consistency=metric.consistency,
            freshness_score=metric.freshness_score,
            freshness_seconds=metric.freshness_seconds,
            invalid_rows=metric.invalid_count,
            duplicate_rows=metric.duplicate_count,
            rows_checked=metric.rows_checked,
            window_start=metric.window_start,
            window_end=metric.window_end,
        )
    return entry


def _ingestion(datasets: list[Dataset], now: datetime) -> dict:
    since = now - timedelta(hours=1)
    rows, measured = 0, 0
    for dataset in datasets:
        snapshot = dataset.health or {}
        if snapshot.get("rows_last_hour") is None or dataset.audited_at is None or dataset.audited_at < since:
            continue
        rows += int(snapshot["rows_last_hour"])
        measured += 1
    return {
        "rows_last_hour": rows,
        "rows_per_minute": round(rows / 60, 3),
        "datasets_measured": measured,
        "basis": RATE_BASIS,
    }


def health_summary(*, now: datetime) -> dict:
    datasets = list(Dataset.objects.filter(status=Dataset.Status.ACTIVE).order_by("dataset_id"))
    audited = [dataset for dataset in datasets if dataset.audited_at is not None and dataset.health_score is not None]
    bands = {"healthy": 0, "degraded": 0, "unhealthy": 0}
    for dataset in audited:
        bands[health.band(dataset.health_score)] += 1
    counts = _gap_counts()
    summary = {
        "audited": bool(audited),
        "timestamp": now,
        "last_audit_at": Dataset.objects.aggregate(last=Max("audited_at"))["last"],
        "bands": {
            "healthy": f">= {settings.AUDIT_HEALTHY_SCORE:g}",
            "degraded": f">= {settings.AUDIT_DEGRADED_SCORE:g}",
            "unhealthy": f"< {settings.AUDIT_DEGRADED_SCORE:g}",
        },
        "datasets": {
            "total": len(datasets),
            "audited": len(audited),
            "unaudited": len(datasets) - len(audited),
            **bands,
        },
        "gaps": {
            "open": sum(entry.get(Gap.Status.OPEN, 0) for entry in counts.values()),
            "backfilling": sum(entry.get(Gap.Status.BACKFILLING, 0) for entry in counts.values()),
            "unfillable": sum(entry.get(Gap.Status.UNFILLABLE, 0) for entry in counts.values()),
            "missing_rows": sum(entry.get("missing_rows", 0) for entry in counts.values()),
        },
        "worst": [],
        "ingestion": _ingestion(audited, now),
    }
    summary["data"] = {
        "total_datasets": len(datasets),
        "healthy_datasets": bands["healthy"],
        "degraded_datasets": bands["degraded"],
        "unhealthy_datasets": bands["unhealthy"],
        "overall_score": _worst([dataset.health_score for dataset in audited], min),
        **earlier_health_figures(
            [
                {
                    "completeness": (dataset.health or {}).get("completeness"),
                    "consistency": (dataset.health or {}).get("consistency"),
                    "freshness_seconds": (dataset.health or {}).get("freshness_seconds"),
                    "duplicate_rows": (dataset.health or {}).get("duplicate_rows"),
                    "health_score": dataset.health_score,
                    "open_gaps": _open(counts.get(dataset.dataset_id, {})),
                }
                for dataset in audited
            ]
        ),
    }
    if not audited:
        summary["message"] = NOT_AUDITED
        return summary
    for dataset in sorted(audited, key=lambda item: (item.health_score, item.dataset_id))[:WORST]:
        snapshot = dataset.health or {}
        summary["worst"].append(
            {
                "dataset_id": dataset.dataset_id,
                "health_score": dataset.health_score,
                "band": health.band(dataset.health_score),
                "completeness": snapshot.get("completeness"),
                "consistency": snapshot.get("consistency"),
                "freshness_seconds": snapshot.get("freshness_seconds"),
                "open_gaps": _open(counts.get(dataset.dataset_id, {})),
                "audited_at": dataset.audited_at,
            }
        )
    return summary


def _pair_dataset_ids(pair: str, period: str | None) -> list[str]:
    """Market-data datasets of the pair: catalogued ones and collections not yet catalogued."""
    if period:
        return [series(DataType.CANDLES, pair, interval=period).collection]
    known = set(Dataset.objects.filter(symbol=pair, category=Dataset.Category.MARKET_DATA).values_list("pk", flat=True))
    for name in mongo.database().list_collection_names():
        ref = parse_collection(name)
        if ref is not None and ref.symbol == pair and ref.data_type is not DataType.ANALYTICS:
            known.add(name)
    return sorted(known)


def pair_health(*, pair: str, period: str | None) -> dict:
    """The latest audit figures of a pair's datasets (or of its candles of one period)."""
    dataset_ids = _pair_dataset_ids(pair, period)
    datasets = {dataset.pk: dataset for dataset in Dataset.objects.filter(pk__in=dataset_ids)}
    if period and dataset_ids[0] not in datasets and dataset_ids[0] not in mongo.database().list_collection_names():
        raise UnknownPair(f"no {dataset_ids[0]} dataset: unknown pair or period")
    if not dataset_ids:
        raise UnknownPair(f"unknown pair {pair}: no dataset holds it")
    counts = _gap_counts(dataset_ids)
    entries = []
    for dataset_id in dataset_ids:
        dataset = datasets.get(dataset_id) or Dataset(dataset_id=dataset_id, **_describe(dataset_id))
        metric = HealthMetric.objects.filter(dataset_id=dataset_id).order_by("-created_at", "-id").first()
        entries.append(_dataset_entry(dataset, counts.get(dataset_id, {}), metric))
    scores = [entry["health_score"] for entry in entries if entry["audited"]]
    body = {
        "pair": pair,
        "period": period,
        "audited": bool(scores),
        # A pair is as healthy as its weakest dataset.
        "health_score": min(scores) if scores else None,
        "band": health.band(min(scores) if scores else None),
        "datasets": entries,
        "health": earlier_health_figures(entries),
    }
    if not scores:
        body["message"] = NOT_AUDITED
    return body


def _describe(dataset_id: str) -> dict:
    ref = parse_collection(dataset_id)
    return {"data_type": ref.data_type.value, "symbol": ref.symbol, "timeframe": ref.interval or ""}


def _worst(values: list, pick) -> float | None:
    present = [value for value in values if value is not None]
    return pick(present) if present else None


def earlier_health_figures(entries: list[dict]) -> dict:
    """The earlier version's six figures over a set of audited dataset entries (dashboards read them): the weakest
    completeness, consistency and quality, the stalest freshness, and the open gaps and duplicates summed.
    Null figures when nothing is audited."""
    audited = [entry for entry in entries if entry.get("audited", True)]
    return {
        "completeness": _worst([entry.get("completeness") for entry in audited], min),
        "freshness_sec": _worst([entry.get("freshness_seconds") for entry in audited], max),
        "gaps": sum(entry.get("open_gaps", 0) for entry in entries),
        "duplicates": sum(entry.get("duplicate_rows") or 0 for entry in audited),
        "consistency_score": _worst([entry.get("consistency") for entry in audited], min),
        "quality_score": _worst([entry.get("health_score") for entry in audited], min),
    }
