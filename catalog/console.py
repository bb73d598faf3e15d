"""The dataset page of the operators' console: metadata, lineage, health and the two pictures."""

from datetime import datetime

from analytics import selectors as analytics_selectors
from analytics.calculators.volatility import annualize, close_to_close
from audits.models import Gap, HealthMetric
from petrosa_dm.charts import UNKNOWN_BOOK, GapSpan, coverage_timeline_svg, price_volatility_svg
from petrosa_dm.market.naming import DataType, parse_collection

from .models import Dataset
from .selectors import dataset_lineage

CHART_BARS = 500
VOLATILITY_WINDOW = 20


def coverage_picture(*, dataset: Dataset, now: datetime) -> str | None:
    if dataset.first_timestamp is None:
        return None
    gaps = [GapSpan(gap.start, gap.end, gap.status) for gap in Gap.objects.filter(dataset=dataset).order_by("start")]
    ref = parse_collection(dataset.dataset_id)
    if ref is not None and ref.data_type is DataType.DEPTH:
        from books.selectors import unknown_spans

        gaps += [GapSpan(start, end, UNKNOWN_BOOK) for start, end in unknown_spans(ref.symbol)]
    end = max([dataset.last_timestamp or dataset.first_timestamp, *(gap.end for gap in gaps)])
    if end <= dataset.first_timestamp:
        return None
    return coverage_timeline_svg(
        start=dataset.first_timestamp, end=end, gaps=gaps, title=f"{dataset.dataset_id}: coverage over its life"
    )


def price_picture(*, dataset: Dataset, now: datetime) -> str | None:
    """The newest candles' close with their annualised close-to-close volatility beneath."""
    ref = parse_collection(dataset.dataset_id)
    if ref is None or ref.data_type is not DataType.CANDLES:
        return None
    end = analytics_selectors.candle_window_end(ref=ref, now=now)
    if end is None:
        return None
    frame = analytics_selectors.candle_window_load(ref=ref, end=end, bars=CHART_BARS, now=now)
    if frame["close"].count() < 2:
        return None
    volatility = annualize(close_to_close(frame, VOLATILITY_WINDOW), ref.interval) * 100
    return price_volatility_svg(
        times=list(frame.index.to_pydatetime()),
        close=frame["close"].tolist(),
        volatility=volatility.tolist(),
        pair=ref.symbol,
        interval=ref.interval,
        volatility_label=f"volatility, {VOLATILITY_WINDOW}-bar annualised (%)",
    )


def dataset_console(*, dataset: Dataset, now: datetime) -> dict:
    return {
        "lineage": dataset_lineage(dataset=dataset),
        "health_metric": HealthMetric.objects.filter(dataset=dataset).order_by("-created_at", "-id").first(),
        "gap_counts": {
            status: Gap.objects.filter(dataset=dataset, status=status).count() for status in Gap.Status.values
        },
        "schema_fields": sorted((dataset.schema or {}).items()),
        "coverage_svg": coverage_picture(dataset=dataset, now=now),
        "price_svg": price_picture(dataset=dataset, now=now),
    }
