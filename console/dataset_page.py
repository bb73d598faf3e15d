"""The dataset page of the operators' console: metadata, lineage, health, repair controls and the two pictures.

Each picture is returned with the reason it is missing, so an empty panel says what is missing and how to get it.
"""

from dataclasses import dataclass
from datetime import datetime

from pymongo.errors import PyMongoError

from analytics import selectors as analytics_selectors
from analytics.calculators.volatility import annualize, close_to_close
from audits.models import Gap, HealthMetric
from audits.repair import repair_option
from books.selectors import unknown_spans
from catalog.models import Dataset, LineageRecord
from catalog.selectors import dataset_lineage
from console.charts import UNKNOWN_BOOK, GapSpan, coverage_timeline_svg, price_volatility_svg
from ingestion.selectors import series_rows_by_source
from petrosa_dm.market.naming import DataType, SeriesRef, parse_collection

CHART_BARS = 500
VOLATILITY_WINDOW = 20
# Which stored rows each ingest/backfill lineage source wrote (rows carry `source`).
ROW_SOURCE = {LineageRecord.Transformation.INGEST: "stream", LineageRecord.Transformation.BACKFILL: "rest"}


@dataclass(frozen=True)
class Picture:
    svg: str | None
    missing: str = ""  # what is missing and how to get it, when there is no picture


def coverage_picture(*, dataset: Dataset, now: datetime) -> Picture:
    if dataset.first_timestamp is None:
        return Picture(
            None,
            "No rows are catalogued for this dataset yet. Ingest or backfill data, then sync the catalog "
            "(`.venv/bin/python manage.py sync_catalog`).",
        )
    gaps = [GapSpan(gap.start, gap.end, gap.status) for gap in Gap.objects.filter(dataset=dataset).order_by("start")]
    ref = parse_collection(dataset.dataset_id)
    if (
        ref is not None and ref.data_type is DataType.DEPTH
    ):  # spans where the order book is unknown (docs/order-books.md)
        gaps += [GapSpan(start, end, UNKNOWN_BOOK) for start, end in unknown_spans(ref.symbol)]
    end = max([dataset.last_timestamp or dataset.first_timestamp, *(gap.end for gap in gaps)])
    if end <= dataset.first_timestamp:
        return Picture(None, "The dataset holds a single moment so far: the timeline needs rows at two times.")
    svg = coverage_timeline_svg(
        start=dataset.first_timestamp, end=end, gaps=gaps, title=f"{dataset.dataset_id}: coverage over its life"
    )
    return Picture(svg)


def price_picture(*, ref: SeriesRef | None, now: datetime) -> Picture | None:
    """The newest candles' close with their annualised close-to-close volatility beneath (candle datasets only)."""
    if ref is None or ref.data_type is not DataType.CANDLES:
        return None
    end = analytics_selectors.candle_window_end(ref=ref, now=now)
    if end is None:
        return Picture(None, "No finished candle is stored yet: the chart appears once candles have closed.")
    frame = analytics_selectors.candle_window_load(ref=ref, end=end, bars=CHART_BARS, now=now)
    if frame["close"].count() < 2:
        return Picture(
            None,
            f"Fewer than two finished candles among the newest {CHART_BARS}: backfill more history with "
            f"`.venv/bin/python manage.py backfill {ref.symbol} candles --timeframe {ref.interval} "
            "--start <ISO time> --wait`.",
        )
    volatility = annualize(close_to_close(frame, VOLATILITY_WINDOW), ref.interval) * 100
    svg = price_volatility_svg(
        times=list(frame.index.to_pydatetime()),
        close=frame["close"].tolist(),
        volatility=volatility.tolist(),
        pair=ref.symbol,
        interval=ref.interval,
        volatility_label=f"volatility, {VOLATILITY_WINDOW}-bar annualised (%)",
    )
    return Picture(svg)


def lineage_with_rows(*, dataset: Dataset, ref: SeriesRef | None) -> dict:
    """Lineage with real row counts: the consumer records its source once per dataset (not per batch), so the rows
    each source wrote are counted in the store, where every row carries its origin."""
    lineage = dataset_lineage(dataset=dataset)
    try:
        stored = series_rows_by_source(ref=ref) if ref is not None else {}
    except PyMongoError:
        stored = {}
    for row in lineage["upstream"]:
        origin = stored.get(ROW_SOURCE.get(row["transformation"], ""))
        if origin is not None:
            row.update(record_count=origin["rows"], start_time=origin["first"], end_time=origin["last"])
            row["counted_in_store"] = True
    return lineage


def dataset_console(*, dataset: Dataset, now: datetime) -> dict:
    ref = parse_collection(dataset.dataset_id)
    return {
        "lineage": lineage_with_rows(dataset=dataset, ref=ref),
        "health_metric": HealthMetric.objects.filter(dataset=dataset).order_by("-created_at", "-id").first(),
        "gap_counts": {
            status: Gap.objects.filter(dataset=dataset, status=status).count() for status in Gap.Status.values
        },
        "repair": repair_option(dataset=dataset, ref=ref),
        "schema_fields": sorted((dataset.schema or {}).items()),
        "coverage": coverage_picture(dataset=dataset, now=now),
        "price": price_picture(ref=ref, now=now),
    }
