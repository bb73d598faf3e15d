"""Automatic repair: open candle and funding gaps become backfill jobs (source "auditor").

Bounded: gaps larger than AUDIT_REPAIR_MAX_GAP_ROWS are left to an operator, and at most a given number of jobs is
created per run. Never two jobs for one gap: a gap whose job is pending or running is skipped. A gap the exchange
confirmed empty (`unfillable`, reason exchange_no_data) is not open, so it is never retried.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from backfills.models import BackfillJob
from catalog.models import Dataset
from petrosa_dm.market.intervals import next_open_time
from petrosa_dm.market.naming import DataType, SeriesRef

from .models import Gap

logger = logging.getLogger(__name__)

ONE_MS = timedelta(milliseconds=1)


def repairable_gaps(*, dataset: Dataset, limit: int, gap_ids: list[int] | None = None, max_rows: int | None = None):
    """Time gaps with no active job that the exchange has not confirmed empty; `max_rows` bounds their size."""
    waiting = Q(backfill_job__isnull=True) | ~Q(backfill_job__status__in=BackfillJob.ACTIVE_STATUSES)
    gaps = (
        Gap.objects.select_for_update()
        .filter(dataset=dataset, kind=Gap.Kind.TIME, status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING))
        .filter(waiting, missing_count__gt=0)
        .exclude(reason=Gap.Reason.EXCHANGE_NO_DATA)
    )
    if gap_ids is not None:
        gaps = gaps.filter(pk__in=gap_ids)
    if max_rows is not None:
        gaps = gaps.filter(missing_count__lte=max_rows)
    return gaps.order_by("start", "pk")[:limit]


def _job_end(gap: Gap, ref: SeriesRef):
    """The last moment the job must cover: the close of the last missing candle, or the funding time's jitter."""
    if ref.data_type is DataType.CANDLES:
        return next_open_time(gap.end, ref.interval) - ONE_MS
    return gap.end + timedelta(seconds=settings.AUDIT_FUNDING_TOLERANCE_SECONDS)


def gaps_repair(
    *,
    dataset: Dataset,
    ref: SeriesRef,
    limit: int,
    gap_ids: list[int] | None = None,
    source: str = "auditor",
    requested_by=None,
) -> list[BackfillJob]:
    """Create a backfill job per repairable gap (at most `limit`) and return the jobs.

    The auditor's automatic repair is bounded in gap size; an operator (source admin) may repair any size."""
    from backfills.services import InvalidBackfill, backfill_job_create  # backfills imports audits models in turn

    if limit <= 0 or ref.data_type not in (DataType.CANDLES, DataType.FUNDING_RATES):
        return []
    max_rows = settings.AUDIT_REPAIR_MAX_GAP_ROWS if source == "auditor" else None
    jobs = []
    with transaction.atomic():
        for gap in repairable_gaps(dataset=dataset, limit=limit, gap_ids=gap_ids, max_rows=max_rows):
            try:
                job = backfill_job_create(
                    symbol=ref.symbol,
                    data_type=ref.data_type.value,
                    timeframe=ref.interval or "",
                    start=gap.start,
                    end=_job_end(gap, ref),
                    source=source,
                    requested_by=requested_by,
                    gaps=[gap],
                )
            except InvalidBackfill as exc:  # e.g. a symbol the exchange no longer lists: nothing to fetch
                logger.warning("gap not repairable: %s", exc, extra={"dataset_id": dataset.dataset_id})
                continue
            jobs.append(job)
    return jobs
