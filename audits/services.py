"""Audit runs: read a dataset's new rows, update the gap ledger, log findings, score its health, repair its holes.

`dataset_audit` audits one dataset; `datasets_audit_all` every dataset (Dataset rows plus collections discovered
by the naming rules). Runs are incremental: a dataset's watermark is the newest row time already audited, and a run
re-reads rows from the watermark minus AUDIT_OVERLAP_SECONDS (late rows), plus the row before that to connect.
A full audit (`full=True`) re-reads everything and restarts the consistency counts.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from catalog.models import Dataset
from catalog.services import dataset_ensure
from ingestion import edges
from petrosa_dm import mongo
from petrosa_dm.market.intervals import floor_to_grid, grid_count, next_open_time
from petrosa_dm.market.naming import DataType, SeriesRef, parse_collection
from petrosa_dm.market.timeutils import format_duration, format_utc, parse_time, utcnow

from . import health, scan
from .detectors import Finding
from .findings import findings_record, gap_finding
from .ledger import LedgerChanges, gaps_reconcile, gaps_to_recheck
from .models import Gap, HealthMetric
from .repair import gaps_repair

logger = logging.getLogger(__name__)
ONE_MS = timedelta(milliseconds=1)
MISSING_STATUSES = (Gap.Status.OPEN, Gap.Status.BACKFILLING)
WHAT_IS_MISSING = {DataType.CANDLES: "candles", DataType.FUNDING_RATES: "funding times", DataType.DEPTH: "update ids"}


class NotAuditable(ValueError):
    """The dataset's id is not a collection name the naming rules know."""


@dataclass
class AuditOutcome:
    dataset_id: str
    rows_read: int = 0
    gaps_created: int = 0
    gaps_filled: int = 0
    open_gaps: int = 0
    findings_created: int = 0
    quality_score: float | None = None
    completeness: float | None = None
    jobs_created: int = 0
    seconds: float = 0.0


@dataclass
class _Run:
    """What one audit run works with."""

    dataset: Dataset
    ref: SeriesRef
    collection: object
    now: datetime
    since: datetime | None
    start: datetime | None
    end: datetime | None
    watermark: datetime | None
    findings: list[Finding] = field(default_factory=list)
    changes: LedgerChanges = field(default_factory=LedgerChanges)


def _newest(run: _Run, name: str) -> datetime | None:
    """The newest row time, from ranges near now; incremental runs look no further back than the window's start."""
    rows = (edges.newest(run.collection, name, query={name: {"$gte": run.since}}) if run.since else None) or (
        edges.newest(run.collection, name)
    )
    return rows[0][name] if rows else None


def _oldest(run: _Run, name: str) -> datetime | None:
    """The oldest row time; incremental runs reuse the last one seen and only look for rows older than it."""
    known = (run.dataset.health or {}).get("first_time") if run.watermark else None
    if known:
        known = parse_time(known)
        older = edges.oldest(run.collection, name, {name: {"$lt": known}})
        return older[name] if older else known
    row = edges.oldest(run.collection, name)
    return row[name] if row else None


def _ledger(run: _Run, result: scan.ScanResult) -> None:
    run.changes += gaps_reconcile(dataset=run.dataset, found=result.gaps, coverage=result.coverage)
    what = WHAT_IS_MISSING.get(run.ref.data_type, "ids")
    run.findings.extend(gap_finding(gap, what) for gap in result.gaps)
    run.findings.extend(result.findings)


def _ledger_sum(dataset: Dataset, statuses) -> int:
    total = Gap.objects.filter(dataset=dataset, status__in=statuses).aggregate(total=Sum("missing_count"))["total"]
    return int(total or 0)


def _audit_candles(run: _Run) -> tuple[scan.ScanResult, int]:
    interval = run.ref.interval
    newest = _newest(run, "open_time")
    if newest is None:
        return scan.ScanResult(cadence_seconds=scan.INTERVAL_MS[interval] / 1000), 0
    if run.end is not None:
        last_expected = floor_to_grid(run.end - ONE_MS, interval)
    else:
        last_expected = scan.candles_last_expected(interval, newest, run.now)
    expect_from = None
    if run.start is not None:
        expect_from = floor_to_grid(run.start, interval)
        expect_from = expect_from if expect_from >= run.start else next_open_time(expect_from, interval)
    result = scan.scan_candles(
        run.collection,
        run.ref,
        since=run.since,
        until=run.end,
        expect_from=expect_from,
        last_expected=last_expected,
        watermark=run.watermark,
    )
    _ledger(run, result)
    for gap in gaps_to_recheck(
        dataset=run.dataset, kind=Gap.Kind.TIME, coverage=result.coverage, limit=settings.AUDIT_RECHECK_GAPS
    ):
        again = scan.scan_candles(
            run.collection,
            run.ref,
            since=gap.start,
            until=next_open_time(gap.end, interval),
            expect_from=gap.start,
            last_expected=gap.end,
            watermark=gap.end,
        )
        _ledger(run, again)
    first = min(filter(None, [floor_to_grid(_oldest(run, "open_time"), interval), expect_from]))
    last = max(last_expected, floor_to_grid(newest, interval))
    expected = grid_count(first, next_open_time(last, interval), interval)
    return result, expected - _ledger_sum(run.dataset, [Gap.Status.UNFILLABLE])


def _audit_funding(run: _Run) -> tuple[scan.ScanResult, int]:
    newest = _newest(run, "funding_time")
    if newest is None:
        return scan.ScanResult(), 0
    step = scan.funding_step(run.collection)
    last_expected = run.end - ONE_MS if run.end else scan.funding_last_expected(step, newest, run.now)
    expect_from = run.start
    result = scan.scan_funding(
        run.collection,
        step=step,
        since=run.since,
        until=run.end,
        expect_from=expect_from,
        last_expected=last_expected,
        watermark=run.watermark,
    )
    _ledger(run, result)
    for gap in gaps_to_recheck(
        dataset=run.dataset, kind=Gap.Kind.TIME, coverage=result.coverage, limit=settings.AUDIT_RECHECK_GAPS
    ):
        again = scan.scan_funding(
            run.collection,
            step=step,
            since=gap.start - step / 2,
            until=gap.end + step / 2,
            expect_from=gap.start,
            last_expected=gap.end,
            watermark=gap.end,
        )
        _ledger(run, again)
    present = run.collection.count_documents({})
    return result, present + _ledger_sum(run.dataset, MISSING_STATUSES)


def _audit_sequence(run: _Run) -> tuple[scan.ScanResult, int]:
    depth = run.ref.data_type is DataType.DEPTH
    if depth:
        result = scan.scan_depth(
            run.collection, since=run.since, id_range=None, expect_time=None, watermark=run.watermark
        )
    else:
        result = scan.scan_trades(run.collection, since=run.since, id_range=None, expect=None, watermark=run.watermark)
    _ledger(run, result)
    for gap in gaps_to_recheck(
        dataset=run.dataset, kind=Gap.Kind.SEQUENCE, coverage=result.coverage, limit=settings.AUDIT_RECHECK_GAPS
    ):
        id_range = (gap.first_missing_id, gap.last_missing_id)
        if depth:
            again = scan.scan_depth(
                run.collection, since=None, id_range=id_range, expect_time=gap.start, watermark=gap.end
            )
        else:
            again = scan.scan_trades(
                run.collection, since=None, id_range=id_range, expect=(gap.start, gap.end), watermark=gap.end
            )
        _ledger(run, again)
    if depth:
        return result, _depth_expected(run, result)
    return result, _id_span(run, result, "trade_id")


def _depth_expected(run: _Run, result: scan.ScanResult) -> int:
    """Messages expected: those stored plus one per open break. A break loses at least one message and how many is
    unknowable (update ids are not message counts), so completeness is counted in messages, not ids."""
    stored = run.collection.count_documents({"kind": result.notes["sequence"]})
    return stored + _ledger_sum(run.dataset, MISSING_STATUSES)


def _id_span(run: _Run, result: scan.ScanResult, id_field: str) -> int:
    """How many ids the sequence spans (first to last), reusing the first id an earlier run saw."""
    kind = result.notes["sequence"]
    query = {"kind": kind}
    key_range = scan.id_key_range(run.collection, run.ref.data_type, kind)
    known = (run.dataset.health or {}).get("first_id") if run.watermark else None
    first = scan.sequence_edge(run.collection, query, id_field, key_range, below=known)
    first = known if first is None else first
    last = result.notes.get("last_id")
    if last is None:
        last = scan.sequence_edge(run.collection, query, id_field, key_range, newest=True)
    result.notes["first_id"] = first
    return last - first + 1 if first is not None and last is not None else 0


def _audit_plain(run: _Run) -> tuple[scan.ScanResult, int]:
    return scan.scan_plain(run.collection, run.ref, since=run.since, watermark=run.watermark), 0


AUDITORS = {
    DataType.CANDLES: _audit_candles,
    DataType.FUNDING_RATES: _audit_funding,
    DataType.TRADES: _audit_sequence,
    DataType.DEPTH: _audit_sequence,
}


def _cadence(run: _Run, result: scan.ScanResult) -> float | None:
    if result.cadence_seconds:
        return result.cadence_seconds
    if run.dataset.expected_cadence_seconds:
        return run.dataset.expected_cadence_seconds
    if run.ref.data_type is DataType.ANALYTICS:
        return float(settings.ANALYTICS_INTERVAL)
    return scan.DEFAULT_CADENCE.get(run.ref.data_type)


def _freshness_finding(newest: datetime, age: float, score: float) -> Finding:
    return Finding(
        audit_type="freshness",
        severity="error" if score == 0 else "warning",
        message=f"newest row {format_utc(newest)} is {format_duration(age)} old (freshness {score:.0f}/100)",
        key=f"stale:{newest.isoformat()}:{'error' if score == 0 else 'warning'}",
        details={"newest": newest.isoformat(), "age_seconds": age, "freshness_score": score},
    )


def _rows_last_hour(run: _Run) -> int | None:
    """Rows the consumer received in the hour before the audit, by receive time (`ingested_at`): a replay of old
    market data is live ingestion too, and a backfill of history (source `rest`) is not."""
    if run.ref.data_type is DataType.ANALYTICS:
        return None
    # `ingested_at` has no index (every index costs the write path, issue 16), so the count scans the collection:
    # bounded by MONGODB_TIMEOUT_MS, past which the figure is unknown (None: the summary leaves the dataset out of
    # its measured rate) rather than an audit held up for minutes on a big collection in the embedded store.
    received = {"source": "stream", "ingested_at": {"$gte": run.now - timedelta(hours=1), "$lte": run.now}}
    return mongo.within_timeout(
        lambda: run.collection.count_documents(received),
        fallback=None,
        giving_up=f"count the rows {run.ref.collection} received in the last hour",
    )


def _begin(dataset: Dataset, *, full: bool, start, end, now) -> _Run:
    ref = parse_collection(dataset.dataset_id)
    if ref is None:
        raise NotAuditable(f"{dataset.dataset_id} is not a collection name the naming rules know")
    ranged = start is not None or end is not None
    watermark = None if (full or ranged) else dataset.audit_watermark
    since = start if ranged else (watermark - timedelta(seconds=settings.AUDIT_OVERLAP_SECONDS) if watermark else None)
    collection = mongo.database()[dataset.dataset_id]
    return _Run(dataset, ref, collection, now, since, start, end, watermark)


def dataset_audit(
    *,
    dataset: Dataset,
    full: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    repair_budget: list[int] | None = None,
) -> AuditOutcome:
    """Audit one dataset (incrementally unless `full`; `start`/`end` audit a fixed window, leading and trailing
    holes included, without moving the watermark). `repair_budget` is a one-item list of backfill jobs this run may
    still create, shared across datasets by `datasets_audit_all`."""
    began = time.perf_counter()
    run = _begin(dataset, full=full, start=start, end=end, now=now or utcnow())
    result, expected = AUDITORS.get(run.ref.data_type, _audit_plain)(run)
    ranged = start is not None or end is not None
    restart = full or dataset.audit_watermark is None
    duplicate_new, duplicate_findings = scan.duplicates(
        run.collection, run.ref.data_type, after=None if restart else run.watermark
    )
    run.findings.extend(duplicate_findings)

    previous = {} if restart else dataset.health or {}
    rows = int(previous.get("rows_checked_total", 0)) + (0 if ranged else result.rows_new)
    invalid = int(previous.get("invalid_rows", 0)) + (0 if ranged else result.invalid_new)
    duplicate_rows = int(previous.get("duplicate_rows", 0)) + (0 if ranged else duplicate_new)
    newest = _newest(run, scan.time_field(run.ref.data_type))
    oldest = _oldest(run, scan.time_field(run.ref.data_type))
    age = max((run.now - newest).total_seconds(), 0.0) if newest else None
    cadence = _cadence(run, result)
    missing = _ledger_sum(dataset, MISSING_STATUSES)
    scores = {
        "completeness": health.completeness(expected=expected, missing=missing),
        "consistency": health.consistency(rows=rows, invalid=invalid, duplicates=duplicate_rows),
        "freshness_score": health.freshness(age_seconds=age, cadence_seconds=cadence),
    }
    quality = health.quality(
        completeness_score=scores["completeness"],
        consistency_score=scores["consistency"],
        freshness_score=scores["freshness_score"],
    )
    if newest is not None and scores["freshness_score"] < 100:
        run.findings.append(_freshness_finding(newest, age, scores["freshness_score"]))
    findings_created = findings_record(dataset=dataset, findings=run.findings)
    open_gaps = Gap.objects.filter(dataset=dataset, status__in=MISSING_STATUSES).count()
    with transaction.atomic():
        HealthMetric.objects.create(
            dataset=dataset,
            window_start=run.since or oldest,
            window_end=newest,
            rows_checked=result.rows_read,
            expected_rows=expected,
            freshness_seconds=age,
            gap_count=open_gaps,
            duplicate_count=duplicate_rows,
            invalid_count=invalid,
            quality_score=quality,
            **scores,
        )
        dataset.health = {
            **scores,
            "quality_score": quality,
            "band": health.band(quality),
            "freshness_seconds": age,
            "cadence_seconds": cadence,
            "open_gaps": open_gaps,
            "missing_rows": missing,
            "expected_rows": expected,
            "rows_checked_total": rows,
            "invalid_rows": invalid,
            "duplicate_rows": duplicate_rows,
            "anomalies": result.anomalies,
            "rows_last_hour": _rows_last_hour(run),
            "measured_at": run.now.isoformat(),
            "first_time": oldest.isoformat() if oldest else None,
            "full": restart,
            **result.notes,
        }
        dataset.health_score = quality
        dataset.audited_at = run.now
        if not ranged and newest is not None:
            dataset.audit_watermark = max(filter(None, [dataset.audit_watermark, result.newest or newest]))
        dataset.save(update_fields=["health", "health_score", "audited_at", "audit_watermark", "updated_at"])

    jobs = 0
    if settings.AUDIT_REPAIR_ENABLED and run.ref.data_type in (
        DataType.CANDLES,
        DataType.FUNDING_RATES,
        DataType.TRADES,
    ):
        budget = repair_budget if repair_budget is not None else [settings.AUDIT_REPAIR_MAX_JOBS]
        jobs = len(gaps_repair(dataset=dataset, ref=run.ref, limit=budget[0]))
        budget[0] -= jobs
    outcome = AuditOutcome(
        dataset_id=dataset.dataset_id,
        rows_read=result.rows_read,
        gaps_created=run.changes.created,
        gaps_filled=run.changes.filled,
        open_gaps=open_gaps,
        findings_created=findings_created,
        quality_score=quality,
        completeness=scores["completeness"],
        jobs_created=jobs,
        seconds=time.perf_counter() - began,
    )
    logger.info("audit done", extra={"dataset_id": dataset.dataset_id, **outcome.__dict__})
    return outcome


def datasets_discover() -> list[Dataset]:
    """Every auditable dataset: the Dataset rows plus collections named by the rules that have none yet."""
    for name in mongo.database().list_collection_names():
        ref = parse_collection(name)
        if ref is not None:
            dataset_ensure(ref=ref)
    rows = Dataset.objects.filter(status=Dataset.Status.ACTIVE).order_by("dataset_id")
    return [dataset for dataset in rows if parse_collection(dataset.dataset_id) is not None]


def datasets_audit_all(
    *, full: bool = False, datasets: list[Dataset] | None = None, progress=None
) -> list[AuditOutcome]:
    """Audit every dataset; one failing dataset is logged and skipped, the others still run.

    `progress` is called after each dataset (the command's progress bar)."""
    outcomes = []
    budget = [settings.AUDIT_REPAIR_MAX_JOBS]
    for dataset in datasets if datasets is not None else datasets_discover():
        try:
            outcomes.append(dataset_audit(dataset=dataset, full=full, repair_budget=budget))
        except Exception:
            logger.exception("audit failed", extra={"dataset_id": dataset.dataset_id})
        if progress:
            progress(dataset)
    return outcomes


def gaps_mark_unfillable(*, gaps, note: str, user=None) -> int:
    """An operator's verdict: these gaps cannot be filled (e.g. a known outage); the auditor stops repairing them."""
    signature = f"{note.strip()} (marked by {user.get_username()})" if user else note.strip()
    return gaps.exclude(status=Gap.Status.FILLED).update(
        status=Gap.Status.UNFILLABLE, reason=Gap.Reason.MANUAL, note=signature, last_checked=utcnow()
    )
