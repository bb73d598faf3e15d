"""The analytics API: stored results latest-first, the regime summary, and an on-demand correlation matrix."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from petrosa_dm import params
from petrosa_dm.errors import error_responses
from petrosa_dm.market.timeutils import utcnow

from .. import selectors
from ..calculators.trend import MA_METHODS
from ..calculators.volatility import METHODS as VOLATILITY_METHODS
from . import serializers

MAX_WINDOW = 100_000
METHODS = {"volatility": VOLATILITY_METHODS, "trend": MA_METHODS}

PAIR = OpenApiParameter("pair", str, required=True, description="Symbol, e.g. BTCUSDT (case-insensitive).")
PERIOD = OpenApiParameter(
    "period", str, description="Candle interval the results were computed on (1m ... 1M); all when omitted."
)
WINDOW = OpenApiParameter(
    "window", int, description=f"Window length in bars (2-{MAX_WINDOW}); results of every window when omitted."
)
LIMIT = OpenApiParameter("limit", int, description="How many results, latest `as_of` first (1-1000, default 100).")
ERRORS = {
    **error_responses(e400="A bad parameter; `detail` names it.", e404="Nothing has been computed for this pair."),
}
RESULT_FIELDS = ("as_of", "timeframe", "window", "values", "coverage", "reliable", "computed_at")


def window_param(query) -> int | None:
    if not query.get("window"):
        return None
    return params.int_param(query, "window", default=0, minimum=2, maximum=MAX_WINDOW)


def select_method(metric: str, values: dict, method: str | None) -> dict:
    """Only the chosen estimator (volatility) or moving average (trend) of a stored result."""
    if method is None:
        return values
    if metric == "volatility":
        return values | {"methods": {method: values.get("methods", {}).get(method)}}
    return {key: value for key, value in values.items() if key not in MA_METHODS or key == method}


def stored_results(request, metric: str) -> tuple[dict, list[dict]]:
    query = request.query_params
    pair = params.pair_param(query)
    period = params.period_param(query, required=False)
    window = window_param(query)
    limit = params.int_param(query, "limit", default=100, minimum=1, maximum=1000)
    method = params.choice_param(query, "method", choices=METHODS[metric], default=None) if metric in METHODS else None
    ref = selectors.analytics_ref(symbol=pair, metric=metric)
    if not selectors.result_exists(ref=ref):
        raise NotFound(f"no {metric} has been computed for {pair}")
    rows = selectors.result_list(ref=ref, timeframe=period, window=window, limit=limit)
    data = [{field: row.get(field) for field in RESULT_FIELDS} for row in rows]
    for result in data:
        result["values"] = select_method(metric, result["values"] or {}, method)
    request_echo = {"pair": pair, "metric": metric, "period": period, "window": window, "method": method}
    return request_echo | {"collection": ref.collection}, data


def metric_view(metric: str, summary: str, description: str):
    parameters = [PAIR, PERIOD, WINDOW, LIMIT]
    if metric in METHODS:
        parameters.append(
            OpenApiParameter(
                "method",
                str,
                enum=list(METHODS[metric]),
                description="Only this estimator / moving average in `values`; all when omitted.",
            )
        )

    class MetricView(APIView):
        @extend_schema(
            summary=summary,
            description=description,
            parameters=parameters,
            responses={200: serializers.MetricResultsSerializer, **ERRORS},
            tags=["analysis"],
        )
        def get(self, request):
            echo, data = stored_results(request, metric)
            collection = echo.pop("collection")
            return Response(echo | {"data": data, "metadata": {"timestamp": utcnow(), "collection": collection}})

    MetricView.__name__ = f"{metric.title()}View"
    MetricView.__qualname__ = MetricView.__name__
    return MetricView


VolatilityView = metric_view(
    "volatility",
    "Volatility of a pair",
    "Per-bar and annualised (365 days, 24/7) volatility: close-to-close, Parkinson, Garman-Klass, Rogers-Satchell, "
    "Yang-Zhang, and volatility of volatility.",
)
VolumeView = metric_view(
    "volume", "Volume of a pair", "Total, SMA, EMA, taker delta (buy - sell) and spike ratio (latest / SMA)."
)
SpreadView = metric_view(
    "spread",
    "Bid-ask spread and depth of a pair",
    "Per bar of ANALYTICS_SPREAD_PERIOD: top-of-book spread (absolute, bps), mid, depth within a band of the mid.",
)
TrendView = metric_view(
    "trend", "Trend of a pair", "SMA/EMA crossover, rate of change, regression on log price, direction and strength."
)
DeviationView = metric_view("deviation", "Deviation from the mean", "z-score, Bollinger bands (k = 2) and %b.")
SeasonalityView = metric_view(
    "seasonality", "Seasonality of a pair", "Hour-of-day and weekday profiles of return, volume and volatility."
)
STORED_CORRELATION = metric_view(
    "correlation",
    "Correlation",
    "Rolling correlation against ANALYTICS_REFERENCE_PAIR (stored), or a matrix computed on demand with `pairs`.",
)


class RegimeView(APIView):
    @extend_schema(
        summary="Market regime of a pair",
        description="The latest regime summary (for `period` and `window` when given). `data` is null when nothing "
        "matches those filters; 404 when no regime has been computed for the pair at all.",
        parameters=[PAIR, PERIOD, WINDOW],
        responses={
            200: serializers.RegimeSerializer,
            **ERRORS,
        },
        tags=["analysis"],
    )
    def get(self, request):
        query = request.query_params
        pair = params.pair_param(query)
        period = params.period_param(query, required=False)
        window = window_param(query)
        ref = selectors.analytics_ref(symbol=pair, metric="regime")
        if not selectors.result_exists(ref=ref):
            raise NotFound(f"no regime has been computed for {pair}")
        rows = selectors.result_list(ref=ref, timeframe=period, window=window, limit=1)
        metadata = {"timestamp": utcnow(), "collection": ref.collection}
        data = None
        if rows:
            latest = rows[0]
            data = latest["values"]
            metadata |= {
                "timestamp": latest["as_of"],
                "period": latest["timeframe"],
                "window": latest["window"],
                "coverage": latest["coverage"]["fraction"],
                "reliable": latest["reliable"],
            }
        return Response({"pair": pair, "metric": "regime", "data": data, "metadata": metadata})


class CorrelationView(STORED_CORRELATION):
    @extend_schema(
        summary="Correlation of log returns",
        description="With `pairs` (and `period`): a Pearson matrix over the last `window` bars, computed on demand "
        "from the stored candles, over only the timestamps every pair shares (symmetric, ones on the diagonal). "
        "With `pair`: the stored rolling correlation of that pair against ANALYTICS_REFERENCE_PAIR, latest first.",
        parameters=[
            OpenApiParameter("pairs", str, description="Comma-separated symbols (2-20) for an on-demand matrix."),
            OpenApiParameter("pair", str, description="Symbol for stored correlation against the reference pair."),
            OpenApiParameter("period", str, description="Candle interval; required with `pairs`."),
            OpenApiParameter(
                "window",
                int,
                description=f"Bars (2-{MAX_WINDOW}); with `pairs` default 100, at most "
                f"{settings.ANALYTICS_CORRELATION_MAX_WINDOW} (ANALYTICS_CORRELATION_MAX_WINDOW).",
            ),
            LIMIT,
        ],
        responses={
            200: PolymorphicProxySerializer(
                "Correlation",
                [serializers.CorrelationMatrixSerializer, serializers.MetricResultsSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
        },
        tags=["analysis"],
    )
    def get(self, request):
        query = request.query_params
        if not query.get("pairs"):
            return super().get(request)
        pairs = params.pairs_param(query, minimum=2)
        period = params.period_param(query)
        # Computed on demand for each request: the window is capped (a window of 100,000 bars took 9 s).
        window = params.int_param(
            query, "window", default=100, minimum=2, maximum=settings.ANALYTICS_CORRELATION_MAX_WINDOW
        )
        try:
            data = selectors.correlation_matrix_get(pairs=pairs, interval=period, window=window, now=utcnow())
        except selectors.NoCandles as exc:
            raise NotFound(str(exc)) from exc
        return Response(
            {
                "pairs": pairs,
                "metric": "correlation",
                "period": period,
                "window": window,
                "data": data,
                "metadata": {"timestamp": utcnow(), "computed": "on_demand"},
            }
        )
