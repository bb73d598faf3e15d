"""Running a job from archives and REST, segment by segment as the planner laid it out.

The plan is saved in the job's `archive_cursor` with the segment and row reached: a killed job resumes at the file
and row where it stopped (rows before it are skipped unparsed; writes are idempotent anyway). The next files are
downloaded and checked in background threads while the current one is written (`ARCHIVE_PREFETCH_FILES`).
A rejected file (checksum, corrupt zip, bad row) stores nothing; the job imports the rest and then fails naming
each rejected file and why. A file Binance does not have (404) is fetched from REST for its range under `auto`.
"""

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from catalog.models import LineageRecord
from catalog.services import lineage_record_create
from ingestion.store import write_rows
from petrosa_dm.market.naming import DataType, SeriesRef, series
from petrosa_dm.market.timeutils import utcnow

from ..fetchers import fetcher_for
from ..models import BackfillJob
from . import parts, planner
from .csvrows import PARSERS
from .download import (
    ArchiveClient,
    ArchiveError,
    ArchiveMissing,
    ArchiveRejected,
    ArchiveUnavailable,
    read_chunks,
    verify,
)
from .layout import ARCHIVE_TYPES

logger = logging.getLogger(__name__)
Status = BackfillJob.Status
NO_ARCHIVE_REASON = "archives are off (BINANCE_ARCHIVE_BASE_URL is empty)"
NO_REST_REASON = {
    "raw_trades": "raw trades (ids t) cannot be fetched over REST without an API key",
    "book_tickers": "book tickers have no REST history",
}


def archives_on() -> bool:
    """An empty BINANCE_ARCHIVE_BASE_URL turns archives off: `auto` is then REST (the tests' default)."""
    return bool(settings.BINANCE_ARCHIVE_BASE_URL)


def uses_archive(job: BackfillJob) -> bool:
    if job.data_source == BackfillJob.DataSource.REST or job.data_type not in ARCHIVE_TYPES or job.from_id is not None:
        return False
    auto = job.data_source == BackfillJob.DataSource.AUTO
    return archives_on() or not (auto and job.data_type in planner.REST_TYPES)


def series_of(job: BackfillJob) -> SeriesRef:
    if job.data_type == BackfillJob.DataType.RAW_TRADES:
        return series(DataType.TRADES, job.symbol)
    if job.data_type == BackfillJob.DataType.CANDLES:
        return series(DataType.CANDLES, job.symbol, interval=job.timeframe)
    return series(DataType(job.data_type), job.symbol)


def target_time_field(job: BackfillJob) -> str:
    if job.data_type in ARCHIVE_TYPES:
        return PARSERS[ARCHIVE_TYPES[job.data_type][0]][2]
    return fetcher_for(data_type=job.data_type, symbol=job.symbol, start=job.start, end=job.end).time_field


@dataclass
class Target:
    """What `_close_gaps` needs to know of the series a job writes."""

    ref: SeriesRef
    time_field: str
    id_kind: str = "aggTrade"


def job_plan(job: BackfillJob, *, now: datetime | None = None) -> list[planner.Segment]:
    if not archives_on():
        return [planner.Segment(planner.NONE, job.start, job.end)]
    return planner.plan(
        data_type=job.data_type,
        symbol=job.symbol,
        start=job.start,
        end=job.end,
        interval=job.timeframe,
        mode=job.data_source,
        now=now or utcnow(),
    )


class Prefetcher:
    """Downloads and checks the next archive files ahead of the writer, at most `depth` at a time."""

    def __init__(self, client: ArchiveClient, segments: list[planner.Segment], first: int, depth: int) -> None:
        self.client, self.segments, self.depth = client, segments, max(1, depth)
        self.pool = ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix="archive-prefetch")
        self.futures: dict[int, Future] = {}
        self.pending = [i for i in range(first, len(segments)) if segments[i].kind == planner.ARCHIVE]

    def _fetch(self, index: int):
        return verify(self.client.download(self.segments[index].file, directory=settings.ARCHIVE_DOWNLOAD_DIR))

    def _fill(self) -> None:
        while self.pending and len(self.futures) < self.depth:
            index = self.pending.pop(0)
            self.futures[index] = self.pool.submit(self._fetch, index)

    def take(self, index: int):
        self._fill()
        future = self.futures.pop(index)
        try:
            return future.result()
        finally:
            self._fill()

    def close(self) -> None:
        for future in self.futures.values():
            if not future.cancel():
                with suppress(Exception):  # a failed prefetch has nothing to clean up
                    future.result().discard()
        self.pool.shutdown(wait=True, cancel_futures=True)


class ArchiveRun:
    """Mixed into `services._Run`: executes the plan instead of paging one REST range."""

    def setup(self) -> None:
        job = self.job
        archive_type = ARCHIVE_TYPES[job.data_type][0]
        self.target = Target(
            series_of(job), PARSERS[archive_type][2], "trade" if job.data_type == "raw_trades" else "aggTrade"
        )
        self.ref = self.target.ref
        self.archive = ArchiveClient()
        self.split = False
        self.rejected: list[ArchiveError] = []
        self.unsourced: list[str] = []

    # --- the plan ----------------------------------------------------------------------------------------------

    def execute(self) -> None:
        job = self.job
        state = dict(job.archive_cursor or {})
        if "plan" not in state:
            state = {"plan": [segment.to_dict() for segment in job_plan(job)], "segment": 0, "row": 0, "rest": None}
        if "parts" in state:  # split earlier: the parts run on their own; this run only sums them up
            self.archive.close()
            parts.parent_refresh(job.pk)
            return
        self.segments = [planner.Segment.from_dict(item) for item in state["plan"]]
        if self.split and state["segment"] == 0 and state["row"] == 0 and parts.should_split(job, self.segments):
            self.archive.close()
            parts.parts_create(job, self.segments)
            return
        self.state = state
        self.span = sum((s.end - s.start).total_seconds() for s in self.segments) or 1.0
        self.rejected = [_Rejection(**item) for item in state.get("rejected", [])]
        prefetcher = Prefetcher(self.archive, self.segments, state["segment"], settings.ARCHIVE_PREFETCH_FILES)
        try:
            for index in range(state["segment"], len(self.segments)):
                segment = self.segments[index]
                if segment.kind == planner.ARCHIVE:
                    done = self._archive_segment(index, segment, prefetcher)
                elif segment.kind == planner.REST:
                    done = self._rest_segment(segment)
                else:
                    done = self._unsourced(segment)
                if not done:
                    return
                state.update(segment=index + 1, row=0, rest=None)
                if not self._save(fraction=0.0, fetched=0, result=None):
                    return
        finally:
            prefetcher.close()
            self.archive.close()
        self.finish()

    def _progress(self, fraction: float) -> float:
        done = sum((s.end - s.start).total_seconds() for s in self.segments[: self.state["segment"]])
        current = self.segments[self.state["segment"]] if self.state["segment"] < len(self.segments) else None
        part = (current.end - current.start).total_seconds() * fraction if current else 0.0
        return min(1.0, (done + part) / self.span)

    def _save(self, *, fraction: float, fetched: int, result) -> bool:
        job = self.job
        job.archive_cursor = {**self.state, "rejected": [r.to_dict() for r in self.rejected]}
        job.progress = self._progress(fraction)
        job.rows_fetched += fetched
        if result is not None:
            job.rows_inserted += result.written
            job.rows_duplicate += result.duplicates
        job.heartbeat_at = utcnow()
        fields = {
            name: getattr(job, name)
            for name in (
                "archive_cursor",
                "archive_files",
                "progress",
                "rows_fetched",
                "rows_inserted",
                "rows_duplicate",
                "heartbeat_at",
            )
        }
        if not self.owned().update(**fields, **self._charges()):
            logger.info("backfill job stopped: cancelled or taken over", extra={"job_id": job.pk})
            return False
        if job.parent_id:
            parts.parent_refresh(job.parent_id)
        if self.on_page:
            self.on_page(job)
        return True

    def _record(self, entry: dict) -> None:
        self.job.archive_files = [*self.job.archive_files, entry]

    # --- segments ----------------------------------------------------------------------------------------------

    def _archive_segment(self, index: int, segment: planner.Segment, prefetcher: Prefetcher) -> bool:
        file = segment.file
        url = file.url(self.archive.base_url)
        try:
            downloaded = prefetcher.take(index)
        except ArchiveMissing as exc:
            self._record({"file": url, "outcome": "missing", "reason": exc.reason})
            if self.job.data_source == BackfillJob.DataSource.AUTO and self.job.data_type in planner.REST_TYPES:
                return self._rest_segment(segment)
            fallback = NO_REST_REASON.get(self.job.data_type, "source=archive allows no REST fallback")
            return self._unsourced(segment, reason=f"{file.name}: {exc.reason}; {fallback}")
        except ArchiveRejected as exc:
            self._record({"file": url, "outcome": "rejected", "reason": exc.reason})
            self.rejected.append(_Rejection(url, exc.reason))
            return True
        except ArchiveUnavailable as exc:
            if self.job.data_source != BackfillJob.DataSource.AUTO or self.job.data_type not in planner.REST_TYPES:
                raise
            self._record({"file": url, "outcome": "unavailable", "reason": exc.reason})
            return self._rest_segment(segment)
        try:
            return self._import(segment, downloaded, url)
        except ArchiveRejected as exc:  # only if a row passed the line check yet failed to build: nothing like it
            self._record({"file": url, "outcome": "rejected", "reason": exc.reason})
            self.rejected.append(_Rejection(url, exc.reason))
            return True
        finally:
            downloaded.discard()

    def _import(self, segment: planner.Segment, downloaded, url: str) -> bool:
        file, time_field = segment.file, self.target.time_field
        whole = segment.start <= file.start and file.end <= segment.end
        written = 0
        chunks = read_chunks(
            downloaded, now=utcnow(), chunk_rows=settings.ARCHIVE_CHUNK_ROWS, skip_rows=self.state["row"]
        )
        for chunk in chunks:
            rows = chunk if whole else [row for row in chunk if segment.start <= row[time_field] < segment.end]
            result = write_rows(self.ref, rows, mostly_new=self._mostly_new)
            self._mostly_new = result.duplicates + result.updated == 0
            written += result.written
            self.state["row"] += len(chunk)
            if not self._save(fraction=self.state["row"] / max(downloaded.rows, 1), fetched=len(rows), result=result):
                return False
        self._record(
            {
                "file": url,
                "outcome": "imported",
                "sha256": downloaded.sha256,
                "bytes": downloaded.size,
                "rows": downloaded.rows,
                "written": written,
                "start": segment.start.isoformat(),
                "end": segment.end.isoformat(),
            }
        )
        return True

    def _rest_segment(self, segment: planner.Segment) -> bool:
        job = self.job
        fetcher = fetcher_for(
            data_type=job.data_type, symbol=job.symbol, start=segment.start, end=segment.end, timeframe=job.timeframe
        )
        saved = self.state.get("rest")
        if saved:
            position = fetcher.resume(datetime.fromisoformat(saved["cursor"]), saved.get("cursor_id"))
        else:
            position = fetcher.first_position()
        self.rest_used = True
        while not position.done:
            page = fetcher.fetch(self.client, position)
            result = write_rows(self.ref, page.rows, mostly_new=self._mostly_new)
            self._mostly_new = result.duplicates + result.updated == 0
            position = page.position
            self.state["rest"] = {"cursor": position.cursor.isoformat(), "cursor_id": position.cursor_id}
            if not self._save(fraction=fetcher.progress(position), fetched=len(page.rows), result=result):
                return False
        return True

    def _unsourced(self, segment: planner.Segment, reason: str | None = None) -> bool:
        default = NO_REST_REASON.get(self.job.data_type, "no source") if archives_on() else NO_ARCHIVE_REASON
        reason = reason or default
        self.unsourced.append(reason)
        self._record(
            {
                "outcome": "no source",
                "start": segment.start.isoformat(),
                "end": segment.end.isoformat(),
                "reason": reason,
            }
        )
        return True

    # --- the end -------------------------------------------------------------------------------------------

    def finish(self) -> None:
        job = self.job
        if self.rejected:
            reasons = "; ".join(f"{r.file}: {r.reason}" for r in self.rejected)
            self.fail(f"archive file(s) rejected, nothing from them stored: {reasons}")
            return
        with transaction.atomic():
            if not self.owned().update(status=Status.SUCCEEDED, progress=1.0, finished_at=utcnow()):
                return
            job.refresh_from_db()
            self.close_gaps(self.target, note=" / ".join(dict.fromkeys(self.unsourced)))
            imported = [entry for entry in job.archive_files if entry.get("outcome") == "imported"]
            for entry in imported:
                lineage_record_create(
                    ref=self.ref,
                    source_type=LineageRecord.SourceType.ARCHIVE_FILE,
                    source=entry["file"][:255],
                    transformation=LineageRecord.Transformation.BACKFILL,
                    start_time=datetime.fromisoformat(entry["start"]),
                    end_time=datetime.fromisoformat(entry["end"]),
                    record_count=entry["written"],
                    job=job,
                    details={"sha256": entry["sha256"], "rows": entry["rows"], "bytes": entry["bytes"]},
                )
            if getattr(self, "rest_used", False) or job.requests_made:
                lineage_record_create(
                    ref=self.ref,
                    source_type=LineageRecord.SourceType.REST_ENDPOINT,
                    source=fetcher_for(
                        data_type=job.data_type,
                        symbol=job.symbol,
                        start=job.start,
                        end=job.end,
                        timeframe=job.timeframe,
                    ).endpoint,
                    transformation=LineageRecord.Transformation.BACKFILL,
                    start_time=job.start,
                    end_time=job.end,
                    # The rows the REST ranges wrote: the job's, less the archive files' (recorded beside it).
                    record_count=max(0, job.rows_inserted - sum(entry["written"] for entry in imported)),
                    job=job,
                    details={"requests_made": job.requests_made, "weight_used": job.weight_used},
                )
        job.refresh_from_db()
        logger.info("backfill job succeeded", extra={"job_id": job.pk, "rows_inserted": job.rows_inserted})


@dataclass
class _Rejection:
    file: str
    reason: str

    def to_dict(self) -> dict:
        return {"file": self.file, "reason": self.reason}
