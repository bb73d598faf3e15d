"""The analytics API in the shape callers read (CONTRACT.md), with our stored results beside it.

- volatility / volume / trend: `values`, the metric's rolling values at the latest bars (at most 10, latest
  first) computed on demand for `window` (bars or a duration such as 30d) on `period`; `results`, our stored
  results (latest `as_of` first).
- spread / deviation / seasonality: `data`, the earlier version's object built from our latest stored result.
- regime: the earlier vocabulary; 200 with `data: null` and "No regime data" when nothing is computed.
- correlation: a Pearson matrix over the requested `pairs` (at most ANALYTICS_CORRELATION_MAX_PAIRS).
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from petrosa_dm import params
from petrosa_dm.errors import BadParameter, error_responses
from petrosa_dm.market.timeutils import utcnow

from .. import selectors
from ..calculators.regime import REGIMES
from ..calculators.trend import MA_METHODS
from ..calculators.volatility import METHODS as VOLATILITY_METHODS
from ..series import metric_series
from . import contract, serializers

MAX_WINDOW = 100_000
DEFAULT_PERIOD = "1h"
# The earlier version's method names first, then our estimators.
EARLIER_VOLATILITY_METHODS = ("rolling_stddev", "annualized", "parkinson", "garman_klass", "vov")
METHODS = {
    "volatility": tuple(dict.fromkeys((*EARLIER_VOLATILITY_METHODS, *VOLATILITY_METHODS))),
    "trend": MA_METHODS,
}
# Which of our stored estimators an earlier method name selects in `results` (vov keeps them all).
STORED_METHOD = {"rolling_stddev": "close_to_close", "annualized": "close_to_close", "vov": None}
# The earlier version's default windows.
DEFAULT_WINDOW = {"volatility": "30d", "volume": "24h", "trend": "20"}

PAIR = OpenApiParameter("pair", str, required=True, description="Symbol, e.g. BTCUSDT (case-insensitive).")
PERIOD = OpenApiParameter(
    "period",
    str,
    description="Candle interval (1m ... 1M). For `values` default 1h; `results` of every period when omitted.",
)
LIMIT = OpenApiParameter("limit", int, description="How many stored results, latest `as_of` first (1-1000, 100).")
ERRORS = {**error_responses(e400="A bad parameter; `detail` names it.")}
NOT_COMPUTED = error_responses(e404="Nothing is computed (or stored) for this pair.")
RESULT_FIELDS = ("as_of", "timeframe", "window", "values", "coverage", "reliable", "computed_at")


def window_parameter(default: str | None) -> OpenApiParameter:
    return OpenApiParameter(
        "window",
        str,
        description=f"Bars (`20`) or a duration (`90m`, `24h`, `30d`, `2w`) converted to bars of `period`; 2 to "
        f"{MAX_WINDOW:,} bars." + (f" Default {default}." if default else ""),
    )


def select_method(metric: str, values: dict, method: str | None) -> dict:
    """Only the chosen estimator (volatility) or moving average (trend) of a stored result."""
    if method is None:
        return values
    if metric == "volatility":
        method = STORED_METHOD.get(method, method)
        if method is None:
            return values
        return values | {"methods": {method: values.get("methods", {}).get(method)}}
    return {key: value for key, value in values.items() if key not in MA_METHODS or key == method}


def stored_results(*, ref, metric: str, period, window: int | None, limit: int, method: str | None) -> list[dict]:
    rows = selectors.result_list(ref=ref, timeframe=period, window=window, limit=limit)
    data = [{field: row.get(field) for field in RESULT_FIELDS} for row in rows]
    for result in data:
        result["values"] = select_method(metric, result["values"] or {}, method)
    return data


def series_metric_view(metric: str, summary: str, description: str):
    default_window = DEFAULT_WINDOW[metric]
    parameters = [PAIR, PERIOD, window_parameter(default_window), LIMIT]
    if metric in METHODS:
        parameters.append(
            OpenApiParameter(
                "method",
                str,
                enum=list(METHODS[metric]),
                description="Echoed; in `results` only this estimator / moving average. `values` carries all.",
            )
        )

    class MetricView(APIView):
        @extend_schema(
            summary=summary,
            description=description,
            parameters=parameters,
            responses={200: serializers.metric_values_serializer(metric), **ERRORS},
            tags=["analysis"],
        )
        def get(self, request):
            query = request.query_params
            pair = params.pair_param(query)
            period = params.period_param(query, required=False)
            window_text, bars = params.window_param(
                query, period or DEFAULT_PERIOD, default=default_window, maximum=MAX_WINDOW
            )
            limit = params.int_param(query, "limit", default=100, minimum=1, maximum=1000)
            method = None
            if metric in METHODS:
                method = params.choice_param(query, "method", choices=METHODS[metric], default=None)
            now = utcnow()
            computed = metric_series(
                metric=metric, symbol=pair, interval=period or DEFAULT_PERIOD, window=bars, now=now
            )
            ref = selectors.analytics_ref(symbol=pair, metric=metric)
            explicit_window = bars if query.get("window") else None
            # The stored results of the period the response reports (its default too), like `values`.
            results = stored_results(
                ref=ref,
                metric=metric,
                period=period or DEFAULT_PERIOD,
                window=explicit_window,
                limit=limit,
                method=method,
            )
            values = computed["values"]
            metadata = {
                "timestamp": now,
                "collection": ref.collection,
                "source": computed["collection"],
                "records_returned": len(values),
                "last_updated": values[0]["timestamp"] if values else now,
                "data_completeness": None
                if computed["coverage"] is None
                else round(computed["coverage"]["fraction"] * 100, 4),
                "coverage": computed["coverage"],
                "as_of": computed["as_of"],
            }
            if not values:
                metadata["message"] = f"no {period or DEFAULT_PERIOD} candles stored for {pair} to compute {metric}"
            return Response(
                {
                    "pair": pair,
                    "period": period or DEFAULT_PERIOD,
                    "metric": metric,
                    "method": method or ("rolling_stddev" if metric == "volatility" else "moving_averages"),
                    "window": window_text,
                    "window_bars": bars,
                    "values": values,
                    "results": results,
                    "metadata": metadata,
                }
            )

    MetricView.__name__ = f"{metric.title()}View"
    MetricView.__qualname__ = MetricView.__name__
    return MetricView


VolatilityView = series_metric_view(
    "volatility",
    "Volatility of a pair",
    "Per-bar close-to-close (`rolling_stddev`) and its annualised value (365 days, 24/7), Parkinson, "
    "Garman-Klass, volatility of volatility (`vov`), Rogers-Satchell and Yang-Zhang.",
)
VolumeView = series_metric_view(
    "volume",
    "Volume of a pair",
    "Total over the window, SMA, EMA, taker delta (buy - sell) over the window and spike ratio (bar / SMA).",
)
TrendView = series_metric_view(
    "trend",
    "Trend of a pair",
    "SMA, EMA and WMA of the close, rate of change over the window (percent), directional strength (percent of "
    "bars closing up) and the crossover of the fast SMA (window / 4) against the window's.",
)


def latest_result(*, ref, period: str | None) -> dict | None:
    rows = selectors.result_list(ref=ref, timeframe=period, window=None, limit=1)
    return rows[0] if rows else None


def latest_object_view(metric: str, build, summary: str, description: str, *, missing_is_404: bool):
    class LatestView(APIView):
        @extend_schema(
            summary=summary,
            description=description,
            parameters=[PAIR, OpenApiParameter("period", str, description="Candle interval; the latest when omitted.")],
            responses={200: serializers.latest_object_serializer(metric), **ERRORS, **NOT_COMPUTED},
            tags=["analysis"],
        )
        def get(self, request):
            query = request.query_params
            pair = params.pair_param(query)
            period = params.period_param(query, required=False)
            ref = selectors.analytics_ref(symbol=pair, metric=metric)
            row = latest_result(ref=ref, period=period) if selectors.result_exists(ref=ref) else None
            data = build(row["values"] or {}) if row else None
            message = f"No {metric} data available for {pair}" + (f" {period}" if period else "")
            if data is None and missing_is_404:
                raise NotFound(message)
            metadata = {
                "timestamp": row["as_of"] if row else utcnow(),
                "source": "mongodb",
                "collection": ref.collection,
            }
            if row:
                metadata |= {"period": row["timeframe"], "window": row["window"], "reliable": row["reliable"]}
            if data is None:  # nothing computed, or the latest result holds no value (e.g. no book in its bar)
                metadata["message"] = message
            return Response({"pair": pair, "metric": metric, "data": data, "metadata": metadata})

    LatestView.__name__ = LatestView.__qualname__ = f"{metric.title()}View"
    return LatestView


SpreadView = latest_object_view(
    "spread",
    contract.spread_data,
    "Bid-ask spread and depth of a pair",
    "From the latest stored spread result (bars of ANALYTICS_SPREAD_PERIOD): spread, spread percentage, depth "
    "within ANALYTICS_DEPTH_BAND_BPS of the mid, bid/ask depth ratio and half-spread slippage (percent). 200 with "
    "`data: null` when none is computed.",
    missing_is_404=False,
)
DeviationView = latest_object_view(
    "deviation",
    contract.deviation_data,
    "Deviation from the mean",
    "Standard deviation and variance of the closes, z-score, Bollinger bands (k = 2) and %b (`price_range_index`).",
    missing_is_404=True,
)
SeasonalityView = latest_object_view(
    "seasonality",
    contract.seasonality_data,
    "Seasonality of a pair",
    "Hour-of-day (UTC) and weekday mean log returns over ANALYTICS_SEASONALITY_DAYS, their spread, the entropy of "
    "volume over the hours and the most volatile hour.",
    missing_is_404=True,
)


class RegimeView(APIView):
    @extend_schema(
        summary="Market regime of a pair",
        description="The latest regime for `period` (default 1h) in the earlier version's vocabulary and rules "
        '(docs/migrating.md). 200 with `data: null` and `metadata.message` "No regime data ..." when nothing is '
        "computed for the pair and period.",
        parameters=[PAIR, OpenApiParameter("period", str, description="Candle interval, default 1h.")],
        responses={200: serializers.RegimeSerializer, **ERRORS},
        tags=["analysis"],
    )
    def get(self, request):
        query = request.query_params
        pair = params.pair_param(query)
        period = params.period_param(query, required=False, default=DEFAULT_PERIOD)
        ref = selectors.analytics_ref(symbol=pair, metric="regime")
        row = latest_result(ref=ref, period=period) if selectors.result_exists(ref=ref) else None
        metadata = {"timestamp": utcnow(), "collection": ref.collection, "period": period}
        data = None
        # A result stored before the vocabulary changed is not served: the next analytics run replaces it.
        if row and (row["values"] or {}).get("regime") in REGIMES:
            data = row["values"]
            metadata |= {
                "timestamp": row["as_of"],
                "window": row["window"],
                "coverage": row["coverage"]["fraction"],
                "reliable": row["reliable"],
            }
        else:
            metadata["message"] = f"No regime data for {pair} {period}"
        return Response({"pair": pair, "metric": "regime", "data": data, "metadata": metadata})


def correlation_window(query, period: str) -> tuple[str, int]:
    """The on-demand matrix's window in bars: `window` as given (capped: every request reads it for each pair), by
    default the earlier version's 30 days, or the cap when 30 days hold more bars of `period`."""
    cap = settings.ANALYTICS_CORRELATION_MAX_WINDOW
    text, bars = params.window_param(query, period, default=None, maximum=cap)
    if bars is not None:
        return text, bars
    try:
        _, month = params.window_param({"window": "30d"}, period, default=None, maximum=10**9)
    except BadParameter:  # 1M bars: a duration has no fixed number of them
        month = cap
    bars = min(month, cap)
    return ("30d" if bars == month else str(bars)), bars


class CorrelationView(APIView):
    @extend_schema(
        summary="Correlation of log returns",
        description="With `pairs` (and `period`): a Pearson matrix over the requested pairs and the last `window` "
        "bars, computed on demand from the stored candles over only the timestamps every pair shares. A pair "
        "without candles is 404. With `pair` instead: the stored rolling correlation of that pair against "
        "ANALYTICS_REFERENCE_PAIR, latest first.",
        parameters=[
            OpenApiParameter(
                "pairs", str, description="Comma-separated symbols, 2 to ANALYTICS_CORRELATION_MAX_PAIRS."
            ),
            OpenApiParameter("pair", str, description="Symbol for stored correlation against the reference pair."),
            OpenApiParameter("period", str, description="Candle interval; required with `pairs`."),
            OpenApiParameter(
                "window",
                str,
                description="Bars (`20`) or a duration (`90m`, `24h`, `30d`) converted to bars of `period`; 2 to "
                f"{settings.ANALYTICS_CORRELATION_MAX_WINDOW:,} bars (ANALYTICS_CORRELATION_MAX_WINDOW). Default 30d, "
                "or that many bars when 30 days hold more.",
            ),
            LIMIT,
        ],
        responses={
            200: PolymorphicProxySerializer(
                "Correlation",
                [serializers.CorrelationMatrixSerializer, serializers.StoredCorrelationSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
            **NOT_COMPUTED,
        },
        tags=["analysis"],
    )
    def get(self, request):
        query = request.query_params
        if "pairs" not in query:  # present but empty is a bad `pairs`, not the stored-results form
            return self.stored(query)
        pairs = params.pairs_param(query, minimum=2, maximum=settings.ANALYTICS_CORRELATION_MAX_PAIRS)
        period = params.period_param(query)
        # Computed on demand for each request: the window is capped (a window of 100,000 bars took 9 s).
        window_text, bars = correlation_window(query, period)
        try:
            data = selectors.correlation_matrix_get(pairs=pairs, interval=period, window=bars, now=utcnow())
        except selectors.NoCandles as exc:
            raise NotFound(str(exc)) from exc
        return Response(
            {
                "pairs": pairs,
                "metric": "correlation",
                "method": "pearson",
                "period": period,
                "window": window_text,
                "window_bars": bars,
                "correlation_matrix": data["matrix"],
                "data": data,
                "metadata": {
                    "timestamp": utcnow(),
                    "computed": "on_demand",
                    "last_updated": data["as_of"],
                    "observations": data["observations"],
                },
            }
        )

    def stored(self, query):
        pair = params.pair_param(query)
        period = params.period_param(query, required=False)
        window_text, bars = params.window_param(query, period or DEFAULT_PERIOD, default=None, maximum=MAX_WINDOW)
        limit = params.int_param(query, "limit", default=100, minimum=1, maximum=1000)
        ref = selectors.analytics_ref(symbol=pair, metric="correlation")
        if not selectors.result_exists(ref=ref):
            raise NotFound(f"no correlation has been computed for {pair}")
        results = stored_results(ref=ref, metric="correlation", period=period, window=bars, limit=limit, method=None)
        return Response(
            {
                "pair": pair,
                "metric": "correlation",
                "period": period,
                "window": window_text,
                "results": results,
                "metadata": {"timestamp": utcnow(), "collection": ref.collection},
            }
        )
