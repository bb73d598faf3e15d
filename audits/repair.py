"""Automatic repair: open candle, funding and trade id gaps become backfill jobs (source "auditor").

Bounded: gaps larger than AUDIT_REPAIR_MAX_GAP_ROWS are left to an operator, and at most a given number of jobs is
created per run. Never two jobs for one gap: a gap whose job is pending or running is skipped. A gap the exchange
confirmed empty (`unfillable`, reason exchange_no_data) is not open, so it is never retried.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from backfills import selectors as backfill_selectors
from backfills.models import BackfillJob
from catalog.models import Dataset
from ingestion import store
from petrosa_dm.market.intervals import next_open_time
from petrosa_dm.market.naming import DataType, SeriesRef

from .models import Gap
from .scan import trade_kind

logger = logging.getLogger(__name__)

ONE_MS = timedelta(milliseconds=1)


def repairable_gaps(
    *,
    dataset: Dataset,
    limit: int,
    gap_ids: list[int] | None = None,
    max_rows: int | None = None,
    kind: str = Gap.Kind.TIME,
):
    """Gaps with no active job that the exchange has not confirmed empty; `max_rows` bounds their size."""
    waiting = Q(backfill_job__isnull=True) | ~Q(backfill_job__status__in=BackfillJob.ACTIVE_STATUSES)
    gaps = (
        Gap.objects.select_for_update()
        .filter(dataset=dataset, kind=kind, status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING))
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
    data_source: str | None = None,
) -> list[BackfillJob]:
    """Create a backfill job per repairable gap (at most `limit`) and return the jobs.

    The auditor's automatic repair is bounded in gap size; an operator (source admin) may repair any size."""
    from backfills.services import InvalidBackfill, backfill_job_create  # backfills' services load its models

    if limit <= 0 or ref.data_type not in (DataType.CANDLES, DataType.FUNDING_RATES, DataType.TRADES):
        return []
    max_rows = settings.AUDIT_REPAIR_MAX_GAP_ROWS if source == "auditor" else None
    if ref.data_type is DataType.TRADES:
        return trade_gaps_repair(
            dataset=dataset,
            ref=ref,
            limit=limit,
            gap_ids=gap_ids,
            source=source,
            requested_by=requested_by,
            max_rows=max_rows,
        )
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
                    data_source=data_source or BackfillJob.DataSource.AUTO,
                )
            except InvalidBackfill as exc:  # e.g. a symbol the exchange no longer lists: nothing to fetch
                logger.warning("gap not repairable: %s", exc, extra={"dataset": dataset.dataset_id})
                continue
            gaps_link_job(gaps=[gap], job=job)
            jobs.append(job)
    return jobs


def trade_gaps_repair(
    *, dataset: Dataset, ref: SeriesRef, limit: int, gap_ids, source: str, requested_by, max_rows
) -> list[BackfillJob]:
    """Sequence gaps in trades. aggTrade ids: a job over exactly the missing id range (`fromId`). Raw trade ids
    (`t`): REST serves them only with an API key, so they come from the daily `trades` archives when published
    (the planner falls back to nothing for the rest: such a gap ends `unfillable`, with that reason)."""
    from backfills.services import backfill_job_create

    kind = trade_kind(store.collection(ref))
    jobs = []
    with transaction.atomic():
        gaps = repairable_gaps(dataset=dataset, limit=limit, gap_ids=gap_ids, max_rows=max_rows, kind=Gap.Kind.SEQUENCE)
        for gap in gaps:
            if gap.first_missing_id is None:
                continue
            common = {
                "symbol": ref.symbol,
                "start": gap.start,
                "end": gap.end + ONE_MS,
                "source": source,
                "requested_by": requested_by,
            }
            if kind == "aggTrade":
                job = backfill_job_create(
                    data_type=BackfillJob.DataType.TRADES,
                    from_id=gap.first_missing_id,
                    to_id=gap.last_missing_id if gap.last_missing_id is not None else gap.first_missing_id,
                    data_source=BackfillJob.DataSource.REST,
                    **common,
                )
            else:
                job = backfill_job_create(
                    data_type=BackfillJob.DataType.RAW_TRADES, data_source=BackfillJob.DataSource.ARCHIVE, **common
                )
            gaps_link_job(gaps=[gap], job=job)
            jobs.append(job)
    return jobs


# --- the gaps' side of a job's life (wired to the backfiller's signals in `receivers.py`) --------------------------


def gaps_link_job(*, gaps, job: BackfillJob) -> None:
    """The gaps a job is meant to fill are backfilling until it ends. Call inside the job's creating transaction."""
    for gap in gaps:
        gap.backfill_job, gap.status = job, Gap.Status.BACKFILLING
        gap.save(update_fields=["backfill_job", "status", "last_checked"])


def gaps_close_after_job(
    *, job: BackfillJob, ref: SeriesRef, time_field: str, id_kind: str = "aggTrade", note: str = ""
) -> None:
    """After a successful job: gaps with rows in their range now are filled; those the exchange had nothing for are
    unfillable (the exchange said so). A trade id gap is filled only when its ids are contiguous again."""
    for gap in Gap.objects.filter(backfill_job=job, status=Gap.Status.BACKFILLING):
        if gap.first_missing_id is not None and ref.data_type is DataType.TRADES:
            _close_id_gap(job, gap, ref, kind=id_kind, note=note)
            continue
        present = backfill_selectors.series_rows_in_range(ref=ref, field=time_field, start=gap.start, end=gap.end)
        if present:
            gap.status = Gap.Status.FILLED
            gap.note = f"backfill job #{job.pk}: {present} rows now stored in the gap's range"
        else:
            gap.status, gap.reason = Gap.Status.UNFILLABLE, Gap.Reason.EXCHANGE_NO_DATA
            gap.note = f"backfill job #{job.pk}: the exchange returned no rows for the gap's range"
        gap.save(update_fields=["status", "reason", "note", "last_checked"])


def _close_id_gap(job: BackfillJob, gap: Gap, ref: SeriesRef, *, kind: str, note: str) -> None:
    """A sequence gap is filled only when every id in it is stored. None of them from the exchange means it has
    none (unfillable, with the job's reason when it had no source); some of them leaves the gap open for the
    auditor to narrow."""
    last_id = gap.last_missing_id if gap.last_missing_id is not None else gap.first_missing_id
    wanted = last_id - gap.first_missing_id + 1
    present = backfill_selectors.trades_in_id_range(ref=ref, first_id=gap.first_missing_id, last_id=last_id, kind=kind)
    if present >= wanted:
        gap.status = Gap.Status.FILLED
        gap.note = f"backfill job #{job.pk}: ids {gap.first_missing_id}..{last_id} contiguous again"
    elif present == 0:
        gap.status, gap.reason = Gap.Status.UNFILLABLE, Gap.Reason.EXCHANGE_NO_DATA
        why = note or "the exchange returned none of them"
        gap.note = f"backfill job #{job.pk}: ids {gap.first_missing_id}..{last_id}: {why}"
    else:
        gap.status = Gap.Status.OPEN
        gap.note = f"backfill job #{job.pk}: {wanted - present} of {wanted} ids still missing"
    gap.save(update_fields=["status", "reason", "note", "last_checked"])


def gaps_reopen_after_job(*, job: BackfillJob) -> None:
    """A failed or cancelled job leaves its gaps open, to be repaired again."""
    Gap.objects.filter(backfill_job=job, status=Gap.Status.BACKFILLING).update(status=Gap.Status.OPEN)


def gaps_resume_with_job(*, job: BackfillJob) -> None:
    """A retried job is meant to fill its unfilled gaps again."""
    Gap.objects.filter(backfill_job=job).exclude(status=Gap.Status.FILLED).update(status=Gap.Status.BACKFILLING)


# --- what an operator can do about a dataset's open gaps ---------------------------------------------------------

# Which gaps a repair can fill, per data type: candles and funding by time, trades by id range (aggTrade ids over
# REST, raw trade ids from the archives).
BACKFILLABLE = {
    DataType.CANDLES: Gap.Kind.TIME,
    DataType.FUNDING_RATES: Gap.Kind.TIME,
    DataType.TRADES: Gap.Kind.SEQUENCE,
}
NOT_REPAIRABLE_WHY = {
    DataType.DEPTH: (
        "Order-book diff gaps cannot be backfilled: Binance keeps no history of depth updates. The book is whole "
        "again from the next snapshot, which closes these gaps as unfillable (docs/order-books.md)."
    ),
}
NO_REST_HISTORY_WHY = "Binance serves no history of this stream, so its gaps cannot be backfilled."


@dataclass(frozen=True)
class RepairOption:
    """One line of the dataset page's repair controls: a button (`action` set) or the reason there is none."""

    open_gaps: int
    action: str | None
    label: str
    why: str = ""


def repair_option(*, dataset: Dataset, ref: SeriesRef | None) -> RepairOption:
    """The repair an operator can start for the dataset's open gaps, or why there is none."""
    open_gaps = Gap.objects.filter(dataset=dataset, status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING))
    count = open_gaps.count()
    if ref is None:
        return RepairOption(count, None, "No repair", "The dataset name is not a series this service knows.")
    if ref.data_type in BACKFILLABLE:
        waiting = (
            open_gaps.filter(kind=BACKFILLABLE[ref.data_type], missing_count__gt=0)
            .filter(Q(backfill_job__isnull=True) | ~Q(backfill_job__status__in=BackfillJob.ACTIVE_STATUSES))
            .exclude(reason=Gap.Reason.EXCHANGE_NO_DATA)
            .count()
        )
        if waiting:
            return RepairOption(count, "backfill_open_gaps", f"Backfill open gaps ({waiting})")
        why = "Every open gap already has a running job." if count else "No open gaps."
        return RepairOption(count, None, "Backfill open gaps (0)", why)
    if not count:
        return RepairOption(count, None, "No repair needed", "No open gaps.")
    return RepairOption(
        count, None, "Backfill not available", NOT_REPAIRABLE_WHY.get(ref.data_type, NO_REST_HISTORY_WHY)
    )
