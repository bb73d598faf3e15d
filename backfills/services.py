"""Backfill jobs: create (API, admin, command, auditor), cancel, retry, run, and resume the stale ones.

A run claims its job with a token (the Celery task id, or a fresh one) and only writes to the job while it still
holds it, so a job resumed by `resume_stale_jobs` and a worker thought dead that wakes up never both advance the
cursor. After every page the cursor, counters and heartbeat are saved: a crashed run resumes where it stopped.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from pymongo.errors import PyMongoError

from catalog.models import LineageRecord
from catalog.services import dataset_rows_added, lineage_record_create
from ingestion.store import write_rows
from petrosa_dm.market import symbols
from petrosa_dm.market.intervals import interval_delta
from petrosa_dm.market.naming import InvalidName, normalize_interval, normalize_symbol
from petrosa_dm.market.timeutils import MIN_VALID, ensure_utc, utcnow

from . import metrics, selectors, signals
from .archive.download import ArchiveError
from .archive.parts import parent_refresh
from .archive.runner import ArchiveRun, uses_archive
from .client import BinanceClient, BinanceError, Stopped
from .fetchers import Fetcher, Position, fetcher_for
from .models import BackfillJob

logger = logging.getLogger(__name__)
Status = BackfillJob.Status


class InvalidBackfill(ValueError):
    """A backfill request outside the rules; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class BackfillStateError(ValueError):
    """The job's status does not allow the action (e.g. cancelling a finished job)."""


# --- create, cancel, retry -----------------------------------------------------------------------------------


def backfill_job_validate(
    *,
    symbol: str,
    data_type: str,
    timeframe: str = "",
    start: datetime,
    end: datetime,
    priority: int = 5,
    from_id: int | None = None,
    to_id: int | None = None,
    data_source: str = BackfillJob.DataSource.AUTO,
) -> dict:
    """The job's fields, normalised; raises InvalidBackfill naming the field at fault."""
    try:
        symbol = normalize_symbol(symbol)
    except InvalidName as exc:
        raise InvalidBackfill("symbol", str(exc)) from exc
    if data_type not in BackfillJob.DataType.values:
        raise InvalidBackfill("data_type", f"expected one of {', '.join(BackfillJob.DataType.values)}")
    if data_type == BackfillJob.DataType.CANDLES:
        try:
            timeframe = normalize_interval(timeframe)
        except InvalidName as exc:
            raise InvalidBackfill("timeframe", str(exc)) from exc
    else:
        timeframe = ""  # only candles have an interval; the others are one series per symbol
    start, end = ensure_utc(start), ensure_utc(end)
    if start < MIN_VALID:
        raise InvalidBackfill("start", f"must be after {MIN_VALID.date()}")
    if start >= end:
        raise InvalidBackfill("end", "must be after start")
    _check_bounds(data_type, timeframe, start, end)
    if not symbols.is_known(symbol):
        raise InvalidBackfill("symbol", f"{symbol} is not listed by the exchange")
    if not 0 <= priority <= 9:
        raise InvalidBackfill("priority", "must be between 0 (highest) and 9")
    return {
        "symbol": symbol,
        "data_type": data_type,
        "timeframe": timeframe,
        "start": start,
        "end": end,
        "priority": priority,
        **_id_range(data_type, from_id, to_id),
        "data_source": _data_source(data_type, data_source, from_id),
    }


def _id_range(data_type: str, from_id: int | None, to_id: int | None) -> dict:
    """An aggregate-trade id range: only aggTrades have ids that REST can page by (`fromId`)."""
    if from_id is None and to_id is None:
        return {}
    if data_type != BackfillJob.DataType.TRADES:
        field = "from_id" if from_id is not None else "to_id"
        raise InvalidBackfill(field, f"an id range applies to data_type trades (aggregate trade ids), not {data_type}")
    for field, value in (("from_id", from_id), ("to_id", to_id)):
        if value is None:
            raise InvalidBackfill(field, "from_id and to_id go together")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidBackfill(field, "must be a non-negative integer")
    if to_id < from_id:
        raise InvalidBackfill("to_id", "must be at least from_id")
    return {"from_id": from_id, "to_id": to_id}


def _data_source(data_type: str, data_source: str, from_id: int | None) -> str:
    data_source = data_source or BackfillJob.DataSource.AUTO
    if data_source not in BackfillJob.DataSource.values:
        raise InvalidBackfill("source", f"expected one of {', '.join(BackfillJob.DataSource.values)}")
    archive_only = data_type in (BackfillJob.DataType.RAW_TRADES, BackfillJob.DataType.BOOK_TICKERS)
    if archive_only and data_source == BackfillJob.DataSource.REST:
        raise InvalidBackfill("source", f"{data_type} have no REST history (without an API key); use archive or auto")
    if data_type == BackfillJob.DataType.DEPTH and data_source == BackfillJob.DataSource.ARCHIVE:
        raise InvalidBackfill("source", "depth snapshots have no archive; use rest or auto")
    if from_id is not None and data_source == BackfillJob.DataSource.ARCHIVE:
        raise InvalidBackfill("source", "an id range is fetched by id from REST; use rest or auto")
    return data_source


def _check_bounds(data_type: str, timeframe: str, start: datetime, end: datetime) -> None:
    """Nothing to fetch lies in the future, and one job stays a bounded amount of work (issue 15, finding 8): a
    trades job from 2030 to 9999 was about 70 million empty requests."""
    now = utcnow()
    if start > now:
        raise InvalidBackfill("start", "must not be in the future")
    if end > now + timedelta(seconds=settings.BACKFILL_FUTURE_TOLERANCE_SECONDS):
        raise InvalidBackfill("end", "must not be past now")
    if data_type == BackfillJob.DataType.CANDLES:
        candles = (end - start) / interval_delta(timeframe)
        if candles > settings.BACKFILL_MAX_CANDLES:
            raise InvalidBackfill(
                "end", f"spans {candles:,.0f} {timeframe} candles; at most {settings.BACKFILL_MAX_CANDLES:,} per job"
            )
        return
    days = settings.BACKFILL_MAX_SPAN_DAYS.get(data_type)
    if days is not None and end - start > timedelta(days=days):
        raise InvalidBackfill("end", f"a {data_type} job spans at most {days} days")


# What makes two jobs identical: the same rows asked for.
TWIN_FIELDS = ("symbol", "data_type", "timeframe", "start", "end", "from_id", "to_id")


def _active_twin(fields: dict) -> BackfillJob | None:
    """A pending or running job asking for exactly the same rows: queuing it again would fetch them twice."""
    return (
        BackfillJob.objects.filter(
            **{
                name: fields.get(name)
                for name in ("symbol", "data_type", "timeframe", "start", "end", "from_id", "to_id")
            }
        )
        .filter(status__in=(Status.PENDING, Status.RUNNING))
        .order_by("pk")
        .first()
    )


def backfill_job_create(
    *,
    symbol: str,
    data_type: str,
    timeframe: str = "",
    start: datetime,
    end: datetime,
    priority: int = 5,
    requested_by=None,
    source: str = "api",
    enqueue: bool = True,
    from_id: int | None = None,
    to_id: int | None = None,
    data_source: str = BackfillJob.DataSource.AUTO,
) -> BackfillJob:
    """Validate and save a job and enqueue it once the transaction commits (`enqueue=False` when the caller runs it
    in-process, as `manage.py backfill --wait` does). A caller that links gaps to the job does so in its own
    transaction around this call, so the job is not enqueued before they are linked."""
    fields = backfill_job_validate(
        symbol=symbol,
        data_type=data_type,
        timeframe=timeframe,
        start=start,
        end=end,
        priority=priority,
        from_id=from_id,
        to_id=to_id,
        data_source=data_source,
    )
    if requested_by is not None and not getattr(requested_by, "is_authenticated", False):
        requested_by = None
    with transaction.atomic():
        twin = _active_twin(fields)
        if twin is not None:
            # The identical active job is returned (`reused`); nothing is queued again. A caller that links gaps
            # links them to it.
            twin.reused = True
            return twin
        job = BackfillJob.objects.create(**fields, requested_by=requested_by, source=source)
        if enqueue:
            transaction.on_commit(partial(backfill_job_enqueue, job_id=job.pk, priority=job.priority))
    logger.info("backfill job created", extra={"job_id": job.pk, "symbol": job.symbol, "data_type": job.data_type})
    return job


def backfill_job_enqueue(*, job_id: int, priority: int = 5) -> None:
    """Announce a committed job as ready: `backfills.tasks` hands it to a worker (this module does not import the
    tasks, which import it). A broker outage is not fatal: `resume_stale_jobs` enqueues pending jobs again."""
    try:
        signals.job_ready.send(sender=BackfillJob, job=BackfillJob(pk=job_id, priority=priority), priority=priority)
    except Exception as exc:
        logger.error(
            "could not enqueue backfill job; resume_stale_jobs will retry",
            extra={"job_id": job_id, "error": f"{type(exc).__name__}: {exc}"},
        )


def backfill_job_cancel(*, job: BackfillJob) -> BackfillJob:
    """Stop a pending or running job; a running one stops before its next page, or within about a second when it
    is waiting to retry a request (`BinanceClient.wanted`). Its gaps go back to open."""
    with transaction.atomic():
        changed = BackfillJob.objects.filter(pk=job.pk, status__in=BackfillJob.ACTIVE_STATUSES).update(
            status=Status.CANCELLED, finished_at=utcnow()
        )
        if not changed:
            job.refresh_from_db()
            raise BackfillStateError(f"job #{job.pk} is {job.status}; only pending or running jobs can be cancelled")
        job.parts.filter(status__in=BackfillJob.ACTIVE_STATUSES).update(status=Status.CANCELLED, finished_at=utcnow())
        signals.job_finished.send(sender=BackfillJob, job=job, outcome="cancelled")
    job.refresh_from_db()
    metrics.BACKFILL_PROGRESS.remove(str(job.pk))
    return job


def backfill_job_retry(*, job: BackfillJob) -> BackfillJob:
    """Run a failed, cancelled or finished job again from its cursor (a rerun of stored pages adds nothing)."""
    with transaction.atomic():
        changed = (
            BackfillJob.objects.filter(pk=job.pk)
            .exclude(status__in=BackfillJob.ACTIVE_STATUSES)
            .update(status=Status.PENDING, error="", finished_at=None, heartbeat_at=None)
        )
        if not changed:
            job.refresh_from_db()
            raise BackfillStateError(f"job #{job.pk} is already {job.status}")
        if (job.archive_cursor or {}).get("rejected"):
            # Rejected files are fetched again: the plan restarts (stored rows are duplicates, not rewrites).
            BackfillJob.objects.filter(pk=job.pk).update(archive_cursor={})
        signals.job_retried.send(sender=BackfillJob, job=job)
        transaction.on_commit(partial(backfill_job_enqueue, job_id=job.pk, priority=job.priority))
    job.refresh_from_db()
    return job


def backfill_jobs_resume_stale(*, stale_seconds: int | None = None) -> list[int]:
    """Enqueue running jobs whose worker died (no page saved for a while) and pending jobs never picked up."""
    stale_seconds = settings.BACKFILL_STALE_SECONDS if stale_seconds is None else stale_seconds
    jobs = list(selectors.backfill_jobs_stale(stale_seconds=stale_seconds).values_list("pk", "priority"))
    for job_id, priority in jobs:
        logger.info("resuming stale backfill job", extra={"job_id": job_id})
        backfill_job_enqueue(job_id=job_id, priority=priority)
    return [job_id for job_id, _ in jobs]


# --- run -----------------------------------------------------------------------------------------------------


def _claim(job: BackfillJob, token: str, *, force: bool) -> bool:
    """Take the job if it is pending, or running with a stale heartbeat (or `force`, for an operator's resume)."""
    if force:
        claimable = Q(status__in=BackfillJob.ACTIVE_STATUSES)
    else:
        claimable = Q(status=Status.PENDING) | selectors.stale_running(stale_seconds=settings.BACKFILL_STALE_SECONDS)
    now = utcnow()
    claimed = BackfillJob.objects.filter(claimable, pk=job.pk).update(
        status=Status.RUNNING, task_id=token, heartbeat_at=now, started_at=Coalesce(F("started_at"), now)
    )
    job.refresh_from_db()
    return bool(claimed)


def _start_position(job: BackfillJob, fetcher: Fetcher) -> Position:
    if job.cursor is None:
        return fetcher.first_position()
    return fetcher.resume(job.cursor, job.cursor_id)


def _owned(job: BackfillJob, token: str):
    return BackfillJob.objects.filter(pk=job.pk, task_id=token, status=Status.RUNNING)


class _Run:
    """One run of a job: pages until done, cancelled or taken over, saving after each page."""

    def __init__(self, job: BackfillJob, token: str, client: BinanceClient, on_page) -> None:
        self.job, self.token, self.client, self.on_page = job, token, client, on_page
        self.fetcher = fetcher_for(
            data_type=job.data_type,
            symbol=job.symbol,
            start=job.start,
            end=job.end,
            timeframe=job.timeframe,
            from_id=job.from_id,
            to_id=job.to_id,
        )
        self.ref = self.fetcher.ref
        self._requests_saved = 0
        self._weight_saved = 0
        self._mostly_new = True

    def owned(self):
        return _owned(self.job, self.token)

    def close_gaps(self, target, note: str = "") -> None:
        _close_gaps(self.job, target, note=note)

    def _charges(self) -> dict:
        """Requests and weight sent since the last save, added to the job's totals."""
        self.job.requests_made += self.client.requests_made - self._requests_saved
        self.job.weight_used += self.client.weight_used - self._weight_saved
        self._requests_saved, self._weight_saved = self.client.requests_made, self.client.weight_used
        return {"requests_made": self.job.requests_made, "weight_used": self.job.weight_used}

    def execute(self) -> None:
        position = _start_position(self.job, self.fetcher)
        while not position.done:
            if not _owned(self.job, self.token).exists():
                logger.info("backfill job stopped: cancelled or taken over", extra={"job_id": self.job.pk})
                return
            page = self.fetcher.fetch(self.client, position)
            # Insert-first while pages turn out new; once stored rows show up (a rerun), upsert directly.
            result = write_rows(self.ref, page.rows, mostly_new=self._mostly_new)
            self._mostly_new = result.duplicates + result.updated == 0
            position = page.position
            if not self._save_page(position, len(page.rows), result):
                return
            if self.on_page:
                self.on_page(self.job)
        self.finish()

    def _save_page(self, position: Position, fetched: int, result) -> bool:
        # New rows (not upserts of stored ones) count in the catalog at once; the scheduled sync recounts them.
        dataset_rows_added(ref=self.ref, added=result.inserted)
        job = self.job
        job.cursor, job.cursor_id = position.cursor, position.cursor_id
        job.progress = self.fetcher.progress(position)
        job.rows_fetched += fetched
        job.rows_inserted += result.written
        job.rows_duplicate += result.duplicates
        job.heartbeat_at = utcnow()
        fields = {
            "cursor": job.cursor,
            "cursor_id": job.cursor_id,
            "progress": job.progress,
            "rows_fetched": job.rows_fetched,
            "rows_inserted": job.rows_inserted,
            "rows_duplicate": job.rows_duplicate,
            "heartbeat_at": job.heartbeat_at,
            **self._charges(),
        }
        metrics.BACKFILL_PROGRESS.labels(job=str(job.pk)).set(job.progress)
        metrics.BACKFILL_ROWS.labels(data_type=job.data_type, outcome="written").inc(result.written)
        metrics.BACKFILL_ROWS.labels(data_type=job.data_type, outcome="duplicate").inc(result.duplicates)
        return bool(_owned(job, self.token).update(**fields))

    def finish(self) -> None:
        job = self.job
        with transaction.atomic():
            done = _owned(job, self.token).update(status=Status.SUCCEEDED, progress=1.0, finished_at=utcnow())
            if not done:
                return
            _close_gaps(job, self.fetcher)
            lineage_record_create(
                ref=self.ref,
                source_type=LineageRecord.SourceType.REST_ENDPOINT,
                source=self.fetcher.endpoint,
                transformation=LineageRecord.Transformation.BACKFILL,
                start_time=job.start,
                end_time=job.end,
                record_count=job.rows_inserted,
                job=job,
                details={
                    "rows_fetched": job.rows_fetched,
                    "rows_duplicate": job.rows_duplicate,
                    "requests_made": job.requests_made,
                    "weight_used": job.weight_used,
                },
            )
        job.refresh_from_db()
        logger.info(
            "backfill job succeeded",
            extra={
                "job_id": job.pk,
                "dataset": self.ref.collection,
                "rows_inserted": job.rows_inserted,
                "requests": job.requests_made,
            },
        )

    def stopped(self) -> None:
        """Cancelled while retrying: the requests it sent still count (a takeover's new owner counts its own)."""
        BackfillJob.objects.filter(pk=self.job.pk, task_id=self.token, status=Status.CANCELLED).update(
            **self._charges()
        )
        logger.info("backfill job stopped while retrying: cancelled or taken over", extra={"job_id": self.job.pk})

    def fail(self, message: str) -> None:
        with transaction.atomic():
            _owned(self.job, self.token).update(
                status=Status.FAILED, error=message[:4000], finished_at=utcnow(), **self._charges()
            )
            signals.job_finished.send(sender=BackfillJob, job=self.job, outcome="failed")
        self.job.refresh_from_db()
        logger.warning(
            "backfill job failed", extra={"job_id": self.job.pk, "dataset": self.ref.collection, "error": message}
        )


class _ArchiveJobRun(ArchiveRun, _Run):
    """A job planned over archive files and REST ranges (`backfills.archive.runner`)."""

    def __init__(self, job: BackfillJob, token: str, client: BinanceClient, on_page) -> None:
        self.job, self.token, self.client, self.on_page = job, token, client, on_page
        self._requests_saved = 0
        self._weight_saved = 0
        self._mostly_new = True
        self.setup()


def _close_gaps(job: BackfillJob, target, note: str = "") -> None:
    """Announce a job's success with what it wrote (`target`: its `ref`, `time_field` and, for trade id gaps,
    `id_kind`); the auditor closes the gaps the job was meant to fill (`audits.receivers`)."""
    signals.job_finished.send(
        sender=BackfillJob,
        job=job,
        outcome="succeeded",
        ref=target.ref,
        time_field=target.time_field,
        id_kind=getattr(target, "id_kind", "aggTrade"),
        note=note,
    )


def _reopen_gaps(job: BackfillJob) -> None:
    """Announce that a job ended without its work done: the auditor reopens its gaps."""
    signals.job_finished.send(sender=BackfillJob, job=job, outcome="failed")


def backfill_job_run(
    *,
    job: BackfillJob,
    run_token: str | None = None,
    force: bool = False,
    client: BinanceClient | None = None,
    on_page: Callable[[BackfillJob], None] | None = None,
    split: bool = False,
) -> BackfillJob:
    """Run (or resume) a job to its end. Binance refusing (bad symbol, ban, retries exhausted) fails the job;
    an outage of our own stores leaves it running, to be resumed from its cursor by `resume_stale_jobs`.
    `split` (workers) lets a job over many archive files become per-file parts that workers share."""
    token = run_token or uuid.uuid4().hex
    if not _claim(job, token, force=force):
        logger.info("backfill job not claimed: finished, or running elsewhere", extra={"job_id": job.pk})
        return job
    client = client or BinanceClient()
    run = _ArchiveJobRun(job, token, client, on_page) if uses_archive(job) else _Run(job, token, client, on_page)
    run.split = split
    # A job cancelled (or taken over) while its request is being retried stops within a second of the retry wait.
    client.wanted = run.owned().exists
    try:
        run.execute()
    except Stopped:
        run.stopped()
    except (BinanceError, ArchiveError) as exc:
        run.fail(str(exc))
    except (PyMongoError, DatabaseError):
        logger.exception("backfill job interrupted by a store error; it will resume", extra={"job_id": job.pk})
        raise
    except Exception as exc:
        run.fail(f"{exc.__class__.__name__}: {exc}")
        raise
    finally:
        client.close()
        metrics.BACKFILL_PROGRESS.remove(str(job.pk))
        if job.parent_id:
            parent_refresh(job.parent_id)
    job.refresh_from_db()
    return job
