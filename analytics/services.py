"""Writes of analytics: compute a series' metrics, upsert the results, record their lineage.

A result is one metric for one (timeframe, window, as_of), where `as_of` is the exclusive end of the window: the
open time after the window's last candle. Results are upserted through `ingestion.store.write_rows`, so recomputing
the same window replaces the row (the newer `computed_at` wins) instead of adding one.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings

from books.spread import book_liquidity
from catalog.models import LineageRecord
from catalog.services import dataset_rows_added, lineage_record_create
from ingestion import store
from petrosa_dm.market.intervals import floor_to_grid, grid_count, next_open_time
from petrosa_dm.market.naming import DataType, SeriesRef, series
from petrosa_dm.market.timeutils import utcnow

from . import selectors
from .calculators import correlation, spread
from .coverage import coverage_measure
from .frames import window_start
from .metrics import CANDLE_METRICS, MIN_PERIODS, clean

logger = logging.getLogger(__name__)
COVERAGE_SUMMARY = ("rows_present", "rows_expected", "fraction")


@dataclass
class ComputeSummary:
    """What one run computed for one input series."""

    dataset_id: str
    as_of: datetime | None = None
    results: int = 0
    unreliable: int = 0
    metrics: list[str] = field(default_factory=list)
    skipped: str = ""


def _result_row(*, symbol, metric, timeframe, window, as_of, values, coverage, method=None, computed_at) -> dict:
    return {
        "symbol": symbol,
        "metric": metric,
        "timeframe": timeframe,
        "window": window,
        "as_of": as_of,
        "method": method,
        "values": values,
        "coverage": coverage,
        "reliable": coverage["reliable"],
        "computed_at": computed_at,
    }


def _store(*, output: SeriesRef, inputs: list[tuple[SeriesRef, pd.DataFrame]], rows: list[dict]) -> None:
    written = store.write_rows(output, rows)
    dataset_rows_added(ref=output, added=written.inserted, newest=max(row["as_of"] for row in rows))
    for input_ref, frame in inputs:
        lineage_record_create(
            ref=output,
            source_type=LineageRecord.SourceType.DATASET,
            source=input_ref.collection,
            transformation=LineageRecord.Transformation.COMPUTE,
            input_ref=input_ref,
            start_time=frame.index[0].to_pydatetime(),
            end_time=frame.index[-1].to_pydatetime(),
            record_count=int(frame.notna().any(axis=1).sum()),
            details={"windows": sorted({row["window"] for row in rows}), "as_of": rows[0]["as_of"].isoformat()},
        )


def _coverage(ref: SeriesRef, frame: pd.DataFrame) -> dict:
    return coverage_measure(dataset_id=ref.collection, interval=ref.interval, present=frame["close"].notna())


def _windows(windows: list[int] | None) -> list[int]:
    windows = sorted(set(windows or settings.ANALYTICS_WINDOWS))
    if min(windows) < 2:
        raise ValueError(f"windows must be at least 2 bars, got {windows}")  # one bar has no spread of returns
    return windows


def seasonality_window(*, interval: str, end: datetime) -> int:
    """Bars in the last ANALYTICS_SEASONALITY_DAYS days (at least two, so one return exists)."""
    return max(2, grid_count(end - timedelta(days=settings.ANALYTICS_SEASONALITY_DAYS), end, interval))


def _metric_rows(*, ref, name, frame, windows, as_of, computed_at) -> list[dict]:
    metric = CANDLE_METRICS[name]
    rows = []
    for window in windows:
        window_frame = frame.iloc[-metric.lookback(window) :]
        coverage = _coverage(ref, window_frame)
        values = metric.summarize(window_frame, window, ref.interval, coverage)
        rows.append(
            _result_row(
                symbol=ref.symbol,
                metric=name,
                timeframe=ref.interval,
                window=window,
                as_of=as_of,
                method=metric.method,
                values=values,
                coverage=coverage,
                computed_at=computed_at,
            )
        )
    return rows


def _correlation_rows(*, ref, frame, windows, as_of, computed_at, now) -> tuple[list[dict], SeriesRef, pd.DataFrame]:
    """Rolling correlation of the pair's log returns against the reference pair's, on the same timeframe."""
    reference_ref = series(DataType.CANDLES, settings.ANALYTICS_REFERENCE_PAIR, interval=ref.interval)
    if reference_ref.symbol == ref.symbol:
        return [], reference_ref, frame
    bars = max(windows) + 1
    reference = selectors.candle_window_load(ref=reference_ref, end=as_of, bars=bars, now=now)
    if reference["close"].isna().all():
        return [], reference_ref, reference
    rows = []
    for window in windows:
        own, other = frame.iloc[-(window + 1) :], reference.iloc[-(window + 1) :]
        returns = correlation.aligned_returns({ref.symbol: own["close"], reference_ref.symbol: other["close"]})
        coverage = _coverage(ref, own)
        reference_coverage = _coverage(reference_ref, other)
        coverage["reliable"] = coverage["reliable"] and reference_coverage["reliable"]
        pair_returns, reference_returns = returns[ref.symbol], returns[reference_ref.symbol]
        rolling = correlation.rolling_correlation(pair_returns, reference_returns, window, MIN_PERIODS)
        values = {
            "reference_pair": reference_ref.symbol,
            "pearson": clean(rolling.iloc[-1]) if len(rolling) else None,
            "observations": len(returns),
            "reference_coverage": {key: reference_coverage[key] for key in COVERAGE_SUMMARY},
        }
        rows.append(
            _result_row(
                symbol=ref.symbol,
                metric="correlation",
                timeframe=ref.interval,
                window=window,
                as_of=as_of,
                values=values,
                coverage=coverage,
                computed_at=computed_at,
            )
        )
    return rows, reference_ref, reference


def analytics_compute(
    *,
    symbol: str,
    interval: str,
    windows: list[int] | None = None,
    metrics: list[str] | None = None,
    now: datetime | None = None,
) -> ComputeSummary:
    """Compute the candle metrics of one series for the window ending after its newest finished candle."""
    now = now or utcnow()
    ref = series(DataType.CANDLES, symbol, interval=interval)
    summary = ComputeSummary(dataset_id=ref.collection)
    as_of = selectors.candle_window_end(ref=ref, now=now)
    if as_of is None:
        summary.skipped = "no finished candles"
        return summary
    windows = _windows(windows)
    names = metrics or [*CANDLE_METRICS, "correlation"]
    computed_at = utcnow()
    summary.as_of = as_of
    bars = max(CANDLE_METRICS[name].lookback(window) for name in CANDLE_METRICS for window in windows)
    frame = selectors.candle_window_load(ref=ref, end=as_of, bars=bars, now=now)
    for name in names:
        if name == "correlation":
            rows, reference_ref, reference = _correlation_rows(
                ref=ref, frame=frame, windows=windows, as_of=as_of, computed_at=computed_at, now=now
            )
            inputs = [(ref, frame), (reference_ref, reference)]
        elif name == "seasonality":
            bars_needed = seasonality_window(interval=interval, end=as_of)
            long_frame = selectors.candle_window_load(ref=ref, end=as_of, bars=bars_needed, now=now)
            rows = _metric_rows(
                ref=ref, name=name, frame=long_frame, windows=[bars_needed], as_of=as_of, computed_at=computed_at
            )
            inputs = [(ref, long_frame)]
        else:
            rows = _metric_rows(ref=ref, name=name, frame=frame, windows=windows, as_of=as_of, computed_at=computed_at)
            inputs = [(ref, frame)]
        if not rows:
            continue
        _store(output=selectors.analytics_ref(symbol=ref.symbol, metric=name), inputs=inputs, rows=rows)
        summary.results += len(rows)
        summary.unreliable += sum(not row["reliable"] for row in rows)
        summary.metrics.append(name)
    return summary


def analytics_compute_spread(
    *, symbol: str, windows: list[int] | None = None, now: datetime | None = None
) -> ComputeSummary:
    """Spread and depth per bar of ANALYTICS_SPREAD_PERIOD from the stored order books, for the window ending after
    the bar holding the newest book."""
    depth_ref = series(DataType.DEPTH, symbol)
    summary = ComputeSummary(dataset_id=depth_ref.collection)
    latest = selectors.depth_latest_event_time(ref=depth_ref)
    if latest is None:
        summary.skipped = "no depth rows"
        return summary
    interval = settings.ANALYTICS_SPREAD_PERIOD
    as_of = next_open_time(floor_to_grid(latest, interval), interval)
    windows = _windows(windows)
    start = window_start(as_of, interval, max(windows))
    books, sources = selectors.depth_books_by_bar(ref=depth_ref, start=start, end=as_of, interval=interval)
    per_bar = spread.spread_frame(books, band_bps=settings.ANALYTICS_DEPTH_BAND_BPS)
    computed_at = utcnow()
    rows = []
    for window in windows:
        window_bars = per_bar.iloc[-window:]
        present = window_bars["mid"].notna()
        coverage = coverage_measure(dataset_id=depth_ref.collection, interval=interval, present=present)
        latest_bar = window_bars[present].index[-1] if present.any() else None
        unknown = [bar for bar in window_bars.index if sources.get(bar) == "unknown"]
        values = {
            "latest": clean(window_bars.loc[latest_bar].to_dict()) if latest_bar is not None else None,
            # The real book's liquidity at the latest bar's end: depth within 0.1 % / 1 % and slippage.
            "liquidity": clean(book_liquidity(*books[latest_bar], notional=settings.BOOKS_SLIPPAGE_NOTIONAL))
            if latest_bar is not None
            else None,
            "latest_book_time": latest,
            "book_source": sources.get(latest_bar) if latest_bar is not None else None,
            "unknown_bars": len(unknown),
            "mean_spread_bps": clean(window_bars["spread_bps"].mean()),
            "max_spread_bps": clean(window_bars["spread_bps"].max()),
            "mean_bid_depth": clean(window_bars["bid_depth"].mean()),
            "mean_ask_depth": clean(window_bars["ask_depth"].mean()),
            "band_bps": settings.ANALYTICS_DEPTH_BAND_BPS,
        }
        row = _result_row(
            symbol=depth_ref.symbol,
            metric="spread",
            timeframe=interval,
            window=window,
            as_of=as_of,
            values=values,
            coverage=coverage,
            computed_at=computed_at,
        )
        if unknown:
            # The book was unknown (a break in the depth stream) for part of the window: never averaged as if known.
            row["reliable"] = False
            values["unreliable_reason"] = (
                f"{len(unknown)} bar(s) inside an unknown-book span, first {unknown[0].isoformat()}"
            )
        rows.append(row)
    output = selectors.analytics_ref(symbol=depth_ref.symbol, metric="spread")
    _store(output=output, inputs=[(depth_ref, per_bar[["mid"]])], rows=rows)
    summary.as_of, summary.results, summary.metrics = as_of, len(rows), ["spread"]
    summary.unreliable = sum(not row["reliable"] for row in rows)
    return summary


def _candles_have_new_data(*, ref: SeriesRef, now: datetime) -> bool:
    as_of = selectors.candle_window_end(ref=ref, now=now)
    if as_of is None:
        return False
    output = selectors.analytics_ref(symbol=ref.symbol, metric="volatility")
    computed = selectors.result_latest_as_of(ref=output, timeframe=ref.interval)
    return computed is None or computed < as_of


def _depth_has_new_data(*, ref: SeriesRef) -> bool:
    latest = selectors.depth_latest_event_time(ref=ref)
    if latest is None:
        return False
    output = selectors.analytics_ref(symbol=ref.symbol, metric="spread")
    computed = selectors.result_latest_book_time(ref=output)
    return computed is None or computed < latest


def analytics_compute_all(*, now: datetime | None = None) -> list[ComputeSummary]:
    """Compute every series with data newer than its latest result (the scheduled run)."""
    now = now or utcnow()
    summaries = []
    for ref in selectors.candle_series_list():
        if _candles_have_new_data(ref=ref, now=now):
            summaries.append(analytics_compute(symbol=ref.symbol, interval=ref.interval, now=now))
    for ref in selectors.depth_series_list():
        if _depth_has_new_data(ref=ref):
            summaries.append(analytics_compute_spread(symbol=ref.symbol, now=now))
    for summary in summaries:
        logger.info("analytics computed", extra={"dataset_id": summary.dataset_id, "results": summary.results})
    return summaries
