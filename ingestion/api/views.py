"""The `/data/...` endpoints: pages of stored market data (CONTRACT.md is the shape callers read).

Every endpoint shares one shape (`pair`, `data`, `pagination`, `sort`, `metadata`, `parameters`) and one set of
parameters (`start`, `end`, `limit`, `offset`, `sort_order`); a subclass names its data type and adds what is
particular to it. Without `start` a page is anchored at the newest rows (as Binance's klines endpoint is): `asc`
gives the latest `limit` rows oldest-first, `offset` steps back in time. A well-formed pair with no rows is an empty
page with `metadata.message`, not an error.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion import selectors
from petrosa_dm.market.intervals import INTERVALS
from petrosa_dm.market.naming import DataType, SeriesRef, series
from petrosa_dm.market.timeutils import time_text, utcnow
from petrosa_dm.pagination import pagination_object
from petrosa_dm.params import choice_param, int_param, pair_param, period_param, time_range

from .renderers import ORJSONRenderer
from .rows import row_formatter, with_side, with_trades_count
from .serializers import error_serializer, page_serializer

MAX_LIMIT = 1000
# Skipping walks index entries (deep offsets took 7-10 s each); past this, page with start/end instead.
MAX_OFFSET = settings.API_MAX_OFFSET
TRADE_KINDS = ("aggTrade", "trade")

PAIR = OpenApiParameter(
    "pair",
    {"type": "string", "pattern": r"^\s*[A-Za-z0-9]{2,24}(_[0-9]{6})?\s*$"},
    required=True,
    description="Symbol, e.g. BTCUSDT (case-insensitive).",
    examples=[OpenApiExample("BTCUSDT", value="BTCUSDT")],
)
PERIOD = OpenApiParameter(
    "period",
    {"type": "string", "enum": list(INTERVALS)},
    required=True,
    description="Kline interval (`1M` is a calendar month).",
)
COMMON_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.STR,
        description="Window start, inclusive: ISO-8601 (`Z`, `+00:00`, `+00:00Z`) or epoch milliseconds.",
    ),
    OpenApiParameter("end", OpenApiTypes.STR, description="Window end, exclusive; same formats as start."),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
        description=f"Rows per page, 1 to {MAX_LIMIT}.",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        description=f"Rows to skip, at most {MAX_OFFSET:,}; page further with start/end.",
    ),
    OpenApiParameter(
        "sort_order",
        {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
        description="By the type's time field. Without `start` the page holds the newest rows either way (asc: "
        "oldest-first, desc: newest-first) and `offset` steps back in time; with `start` asc reads forward from it.",
    ),
]
ERRORS = {
    400: error_serializer,
    401: error_serializer,
    403: error_serializer,
    404: error_serializer,
}


class SeriesView(APIView):
    """One page of one series; subclasses set `data_type` and may add parameters, a filter and metadata."""

    data_type: DataType
    no_grid_reason = "rows arrive without a fixed time grid"
    renderer_classes = [ORJSONRenderer]

    def get(self, request):
        query = request.query_params
        ref = self.series_ref(query)
        window = PageRequest.from_query(query, match=self.match(query))
        page = selectors.series_page(ref=ref, shown=True, **window.selector_arguments())
        message = None
        if page is None:
            page = selectors.SeriesPage([], has_next=False, total=0, total_exact=True)
            message = f"no {ref.data_type.value.replace('_', ' ')} stored for {self.describe(ref)}"
        elif not page.rows:
            message = "no rows in the requested range" if window.offset == 0 else "no rows at this offset"
        completeness = self.completeness(ref=ref, page=page, start=window.start, end=window.end, match=window.match)
        time_field = selectors.TIME_FIELDS[ref.data_type]
        rows = list(map(self.format_row(ref.data_type, time_field), page.rows))
        metadata = {**_metadata(ref, window, completeness, rows), **self.extra_metadata(page)}
        if message:
            metadata["message"] = message
        head = self.head(ref)
        return Response(
            {
                **head,
                "data": rows,
                "pagination": _pagination(page, window),
                "sort": {"by": "timestamp", "order": window.sort_order},
                "metadata": metadata,
                "parameters": {**head, "start": time_text(window.start), "end": time_text(window.end)},
            }
        )

    def format_row(self, data_type: DataType, time_field: str):
        return row_formatter(data_type, time_field)

    def series_ref(self, query) -> SeriesRef:
        return series(self.data_type, pair_param(query))

    def describe(self, ref: SeriesRef) -> str:
        return f"{ref.symbol} (collection {ref.collection})"

    def head(self, ref: SeriesRef) -> dict:
        return {"pair": ref.symbol}

    def match(self, query) -> dict:
        return {}

    def completeness(self, *, ref, page, start, end, match) -> selectors.Completeness:
        return selectors.Completeness(None, reason=self.no_grid_reason)

    def extra_metadata(self, page: selectors.SeriesPage) -> dict:
        return {}


@dataclass(frozen=True)
class PageRequest:
    """The parameters every data endpoint shares, validated."""

    start: datetime | None
    end: datetime | None
    limit: int
    offset: int
    sort_order: str
    match: dict

    @classmethod
    def from_query(cls, query, *, match: dict) -> "PageRequest":
        start, end = time_range(query)
        return cls(
            start=start,
            end=end,
            limit=int_param(query, "limit", default=100, minimum=1, maximum=MAX_LIMIT),
            offset=int_param(query, "offset", default=0, minimum=0, maximum=MAX_OFFSET),
            sort_order=choice_param(query, "sort_order", choices=("asc", "desc"), default="asc"),
            match=match,
        )

    def selector_arguments(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "limit": self.limit,
            "offset": self.offset,
            "descending": self.sort_order == "desc",
            "anchor_newest": self.start is None,
            "match": self.match,
        }


def _pagination(page: selectors.SeriesPage, window: PageRequest) -> dict:
    return {
        **pagination_object(total=page.total, limit=window.limit, offset=window.offset, has_next=page.has_next),
        "total_exact": page.total_exact,
        "next_offset": window.offset + window.limit if page.has_next else None,
    }


def _metadata(ref: SeriesRef, window: PageRequest, completeness: selectors.Completeness, rows: list[dict]) -> dict:
    generated_at = time_text(utcnow())
    times = [row["timestamp"] for row in rows if row["timestamp"]]
    return {
        "collection": ref.collection,
        "source": "mongodb",
        "records_returned": len(rows),
        # The earlier version's names: completeness in percent, and the newest row's time.
        "data_completeness": None if completeness.ratio is None else round(completeness.ratio * 100, 4),
        "last_updated": max(times) if times else generated_at,
        "data_type": ref.data_type.value,
        "time_field": selectors.TIME_FIELDS[ref.data_type],
        "sort_order": window.sort_order,
        "start": time_text(window.start),
        "end": time_text(window.end),
        "completeness": completeness.ratio,
        "completeness_detail": _completeness_detail(completeness),
        "generated_at": generated_at,
    }


def _completeness_detail(completeness: selectors.Completeness) -> dict:
    return {
        "scope": completeness.scope,
        "start": time_text(completeness.start),
        "end": time_text(completeness.end),
        "present": completeness.present,
        "expected": completeness.expected,
        "reason": completeness.reason,
    }


def _schema(summary: str, response, parameters: list, description: str = ""):
    return extend_schema(
        summary=summary,
        description=description,
        parameters=parameters + COMMON_PARAMETERS,
        responses={200: response, **ERRORS},
    )


class CandlesView(SeriesView):
    data_type = DataType.CANDLES

    @_schema(
        "Candles (klines) of a pair and period",
        page_serializer(DataType.CANDLES, "Candle", period=True),
        [PAIR, PERIOD],
        "Completeness is candles present over candles expected on the interval grid: over [start, end) when both "
        "are given, otherwise over the span of the returned page.",
    )
    def get(self, request):
        return super().get(request)

    def series_ref(self, query) -> SeriesRef:
        return series(self.data_type, pair_param(query), interval=period_param(query))

    def describe(self, ref: SeriesRef) -> str:
        return f"{ref.symbol} {ref.interval} (collection {ref.collection})"

    def head(self, ref: SeriesRef) -> dict:
        return {"pair": ref.symbol, "period": ref.interval}

    def completeness(self, *, ref, page, start, end, match) -> selectors.Completeness:
        return selectors.candle_completeness(ref=ref, rows=page.rows, start=start, end=end, total=page.total)

    def format_row(self, data_type: DataType, time_field: str):
        return with_trades_count(row_formatter(data_type, time_field))


class TradesView(SeriesView):
    data_type = DataType.TRADES

    @_schema(
        "Trades (aggregate trades and raw trades) of a pair",
        page_serializer(DataType.TRADES, "Trade"),
        [PAIR, OpenApiParameter("kind", {"type": "string", "enum": list(TRADE_KINDS)}, description="Only this kind.")],
        "With kind=aggTrade, completeness is trades present over aggregate-trade ids spanned by the page.",
    )
    def get(self, request):
        return super().get(request)

    def match(self, query) -> dict:
        kind = choice_param(query, "kind", choices=TRADE_KINDS, default="")
        return {"kind": kind} if kind else {}

    def completeness(self, *, ref, page, start, end, match) -> selectors.Completeness:
        return selectors.trade_completeness(rows=page.rows, kind=match.get("kind"))

    def format_row(self, data_type: DataType, time_field: str):
        return with_side(row_formatter(data_type, time_field))


class DepthUpdatesView(SeriesView):
    """The stored depth update stream (`/data/depth/updates`); `/data/depth` is the order book."""

    data_type = DataType.DEPTH

    @_schema(
        "Stored order-book updates of a pair",
        page_serializer(
            DataType.DEPTH,
            "Depth",
            metadata_extra={
                "latest_final_update_id": serializers.IntegerField(allow_null=True),
                "sequence_breaks": serializers.IntegerField(
                    help_text="Adjacent updates in this page whose pu differs from the previous update's u."
                ),
            },
        ),
        [PAIR],
        "Rows are stored diff and partial updates and REST snapshots with their update ids (`first_update_id` U, "
        "`final_update_id` u, `prev_final_update_id` pu). With sort_order=desc the first row is the latest "
        "stored update; `limit=1` returns only it.",
    )
    def get(self, request):
        return super().get(request)

    def extra_metadata(self, page: selectors.SeriesPage) -> dict:
        ordered = sorted(page.rows, key=lambda row: row["final_update_id"])
        breaks = sum(
            1
            for before, after in itertools.pairwise(ordered)
            if after.get("prev_final_update_id") is not None
            and after["prev_final_update_id"] != before["final_update_id"]
        )
        latest = ordered[-1]["final_update_id"] if ordered else None
        return {"latest_final_update_id": latest, "sequence_breaks": breaks}


def _simple_view(data_type: DataType, name: str, summary: str, no_grid_reason: str = "") -> type[SeriesView]:
    class View(SeriesView):
        @_schema(summary, page_serializer(data_type, name), [PAIR])
        def get(self, request):
            return super().get(request)

    View.data_type = data_type
    View.no_grid_reason = no_grid_reason or SeriesView.no_grid_reason
    View.__name__ = View.__qualname__ = f"{name}View"
    return View


FundingView = _simple_view(
    DataType.FUNDING_RATES,
    "FundingRate",
    "Funding rates of a pair, one row per funding time",
    "the funding interval differs by symbol (1h, 4h or 8h); the auditor checks funding gaps",
)
MarkPricesView = _simple_view(DataType.MARK_PRICES, "MarkPrice", "Mark-price updates of a pair")
TickersView = _simple_view(DataType.TICKERS, "Ticker", "24-hour rolling tickers of a pair")
BookTickersView = _simple_view(DataType.BOOK_TICKERS, "BookTicker", "Best bid and ask updates of a pair")
LiquidationsView = _simple_view(DataType.LIQUIDATIONS, "Liquidation", "Liquidation orders of a pair")
