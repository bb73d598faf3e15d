"""What the operators' dashboard (the admin index) shows: reads only, from the catalog, the auditor and the jobs."""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from pymongo.errors import PyMongoError

from audits import health
from audits.models import Gap
from audits.selectors import health_summary
from backfills.models import BackfillJob
from catalog.models import Dataset
from ingestion.services import DEAD_LETTERS
from petrosa_dm import mongo

RECENT = timedelta(hours=1)
FAILED_JOBS_SINCE = timedelta(days=1)
LISTED = 10


def dataset_tiles() -> list[dict]:
    """Every active market dataset with its health band and open gaps, worst first (unaudited ones last).
    Analytics outputs are computed from these, so they are listed apart (`analytics_outputs`)."""
    datasets = Dataset.objects.filter(status=Dataset.Status.ACTIVE, category=Dataset.Category.MARKET_DATA).annotate(
        open_gaps=Count("gaps", filter=Q(gaps__status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING)))
    )
    tiles = [
        {
            "dataset_id": dataset.dataset_id,
            "score": dataset.health_score,
            "band": health.band(dataset.health_score),
            "open_gaps": dataset.open_gaps,
            "last_timestamp": dataset.last_timestamp,
        }
        for dataset in datasets
    ]
    return sorted(
        tiles, key=lambda t: (t["score"] is None, t["score"] if t["score"] is not None else 0, t["dataset_id"])
    )


def analytics_outputs() -> list[dict]:
    return list(
        Dataset.objects.filter(status=Dataset.Status.ACTIVE, category=Dataset.Category.ANALYTICS)
        .order_by("dataset_id")
        .values("dataset_id", "record_count", "last_timestamp")
    )


def band_counts(tiles: list[dict]) -> dict:
    counts = {"total": len(tiles), "healthy": 0, "degraded": 0, "unhealthy": 0, "unaudited": 0}
    for tile in tiles:
        counts[tile["band"]] = counts.get(tile["band"], 0) + 1
    return counts


def dead_letters_recent(*, now: datetime) -> dict:
    """Dead letters of the last hour by reason (received_at carries the TTL index, so this is an index read)."""
    try:
        rows = mongo.database()[DEAD_LETTERS].aggregate(
            [{"$match": {"received_at": {"$gte": now - RECENT}}}, {"$group": {"_id": "$reason", "count": {"$sum": 1}}}]
        )
        by_reason = {row["_id"]: row["count"] for row in rows}
    except PyMongoError as exc:
        return {"available": False, "error": type(exc).__name__, "total": None, "by_reason": {}}
    return {"available": True, "total": sum(by_reason.values()), "by_reason": dict(sorted(by_reason.items()))}


def dashboard_overview(*, now: datetime) -> dict:
    active_jobs = BackfillJob.objects.filter(status__in=BackfillJob.ACTIVE_STATUSES).order_by("-created_at")
    failed_jobs = BackfillJob.objects.filter(
        status=BackfillJob.Status.FAILED, finished_at__gte=now - FAILED_JOBS_SINCE
    ).order_by("-finished_at")
    open_gaps = (
        Gap.objects.filter(status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING))
        .select_related("dataset", "backfill_job")
        .order_by("-missing_count", "start")
    )
    tiles = dataset_tiles()
    return {
        "summary": health_summary(now=now),
        "tiles": tiles,
        "market": band_counts(tiles),
        "analytics": analytics_outputs(),
        "active_jobs": list(active_jobs[:LISTED]),
        "active_job_count": active_jobs.count(),
        "failed_jobs": list(failed_jobs[:LISTED]),
        "failed_job_count": failed_jobs.count(),
        "open_gaps": list(open_gaps[:LISTED]),
        "dead_letters": dead_letters_recent(now=now),
    }
