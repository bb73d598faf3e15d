"""Reads: backfill jobs, and what the store holds in a range (to tell filled gaps from unfillable ones)."""

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from ingestion import store
from ingestion.keys import keyed_collection, trade_key_range
from petrosa_dm.market.naming import SeriesRef
from petrosa_dm.market.timeutils import utcnow

from .models import BackfillJob


def backfill_job_list() -> QuerySet[BackfillJob]:
    return BackfillJob.objects.select_related("requested_by").order_by("-created_at", "-id")


def stale_running(*, stale_seconds: int) -> Q:
    """Running jobs whose worker has saved no page for `stale_seconds`: it died or hangs."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    return Q(status=BackfillJob.Status.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))


def backfill_jobs_stale(*, stale_seconds: int) -> QuerySet[BackfillJob]:
    """Running jobs whose worker stopped saving pages, and pending jobs no worker picked up."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    pending = Q(status=BackfillJob.Status.PENDING, created_at__lt=cutoff)
    return BackfillJob.objects.filter(stale_running(stale_seconds=stale_seconds) | pending).order_by(
        "priority", "created_at", "id"
    )


def series_rows_in_range(*, ref: SeriesRef, field: str, start: datetime, end: datetime) -> int:
    """Rows of the series whose `field` lies in [start, end] (both inclusive, as the gap ledger's ends are)."""
    return store.collection(ref).count_documents({field: {"$gte": start, "$lte": end}})


def trades_in_id_range(*, ref: SeriesRef, first_id: int, last_id: int, kind: str = "aggTrade") -> int:
    query = {"kind": kind, "trade_id": {"$gte": first_id, "$lte": last_id}}
    target = store.collection(ref)
    if keyed_collection(target, ref.data_type):  # the same rows, counted on the `_id` index
        query["_id"] = trade_key_range(kind, first_id, last_id)
    return target.count_documents(query)


def backfill_job_elapsed_seconds(*, job: BackfillJob, now: datetime) -> float | None:
    if job.started_at is None:
        return None
    return ((job.finished_at or now) - job.started_at).total_seconds()


def backfill_job_remaining_seconds(*, job: BackfillJob, now: datetime) -> float | None:
    """Estimated from the pace so far: elapsed x (1 - progress) / progress, for running jobs only."""
    elapsed = backfill_job_elapsed_seconds(job=job, now=now)
    if job.status != BackfillJob.Status.RUNNING or not elapsed or job.progress <= 0:
        return None
    return elapsed * (1 - job.progress) / job.progress
