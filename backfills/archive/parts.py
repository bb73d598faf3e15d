"""Many files, many workers: a job planned over at least `ARCHIVE_SPLIT_MIN_FILES` archive files is split into
part jobs, one per file (and one per REST range), that Celery workers share. More workers import faster.

The parent stays `running` while its parts run; each part, as it saves and when it ends, refreshes the parent:
progress is the parts' progress weighted by their time span, row and request counts are their sums, and the parent
ends once every part has (succeeded if all did, else failed naming the parts that failed). The parent's gaps are
closed against the store at its end, as for any job.
"""

from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from petrosa_dm.market.timeutils import utcnow

from ..models import BackfillJob
from . import planner

Status = BackfillJob.Status
SUMMED = ("rows_fetched", "rows_inserted", "rows_duplicate", "requests_made", "weight_used")


def should_split(job: BackfillJob, segments: list[planner.Segment]) -> bool:
    files = sum(1 for segment in segments if segment.kind == planner.ARCHIVE)
    return job.parent_id is None and settings.ARCHIVE_SPLIT_MIN_FILES > 0 and files >= settings.ARCHIVE_SPLIT_MIN_FILES


def parts_create(job: BackfillJob, segments: list[planner.Segment]) -> list[BackfillJob]:
    """One part per segment, enqueued once the transaction commits. A part over a whole month or day plans that
    one file again (and falls back to REST on a 404 under auto); a REST range is a REST part."""
    from ..services import backfill_job_enqueue

    parts = []
    with transaction.atomic():
        for segment in segments:
            data_source = BackfillJob.DataSource.REST if segment.kind == planner.REST else job.data_source
            parts.append(
                BackfillJob.objects.create(
                    symbol=job.symbol,
                    data_type=job.data_type,
                    timeframe=job.timeframe,
                    start=segment.start,
                    end=segment.end,
                    priority=job.priority,
                    data_source=data_source,
                    parent=job,
                    source=job.source,
                    requested_by=job.requested_by,
                )
            )
        BackfillJob.objects.filter(pk=job.pk).update(
            archive_cursor={"parts": len(parts), "plan": [segment.to_dict() for segment in segments]},
            heartbeat_at=utcnow(),
        )
        for part in parts:
            transaction.on_commit(partial(backfill_job_enqueue, job_id=part.pk, priority=part.priority))
    return parts


def _span(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


def parent_refresh(parent_id: int) -> BackfillJob | None:
    """Sum the parts into the parent; end the parent when every part has ended. Returns the parent."""
    from ..services import _close_gaps, _reopen_gaps
    from .runner import Target, series_of, target_time_field

    parent = BackfillJob.objects.filter(pk=parent_id).first()
    if parent is None or parent.status not in BackfillJob.ACTIVE_STATUSES:
        return parent
    parts = list(parent.parts.all())
    if not parts:
        return parent
    total = sum(_span(part.start, part.end) for part in parts) or 1.0
    progress = (
        sum(_span(part.start, part.end) * (1.0 if part.status == Status.SUCCEEDED else part.progress) for part in parts)
        / total
    )
    sums = parent.parts.aggregate(**{name: Sum(name) for name in SUMMED})
    fields = {name: sums[name] or 0 for name in SUMMED} | {"progress": min(progress, 1.0), "heartbeat_at": utcnow()}
    files = [entry for part in parts for entry in part.archive_files]
    fields["archive_files"] = files
    ended = all(part.status not in BackfillJob.ACTIVE_STATUSES for part in parts)
    with transaction.atomic():
        if ended:
            failed = [part for part in parts if part.status != Status.SUCCEEDED]
            fields["finished_at"] = utcnow()
            if failed:
                fields["status"] = Status.FAILED
                fields["error"] = "; ".join(f"part #{p.pk} {p.status}: {p.error}".strip() for p in failed)[:4000]
            else:
                fields["status"], fields["progress"] = Status.SUCCEEDED, 1.0
        updated = BackfillJob.objects.filter(pk=parent.pk, status__in=BackfillJob.ACTIVE_STATUSES).update(**fields)
        parent.refresh_from_db()
        if updated and ended:
            if parent.status == Status.SUCCEEDED:
                _close_gaps(parent, Target(series_of(parent), target_time_field(parent)))
            else:
                _reopen_gaps(parent)
    return parent
