"""The collection naming rules: the one module that knows how a time series is named in MongoDB.

Collection names are a contract other tools rely on (DESIGN section 3): `candles_{SYMBOL}_{interval}`,
`trades_{SYMBOL}`, `analytics_{SYMBOL}_{metric}` and so on, symbols upper-case. Every name is built from a
validated symbol and interval, so no request parameter can name an arbitrary collection.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from petrosa_dm.market.intervals import INTERVALS, is_interval

# Capital letters and digits (1000PEPEUSDT); delivery contracts carry a `_YYMMDD` suffix (BTCUSDT_250627).
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,24}(?:_[0-9]{6})?$")


class DataType(StrEnum):
    # Enum hashes its member name in Python code; the ingest path hashes a data type for every row, and str's own
    # hash (of the value) is both faster and consistent with a member being equal to its value.
    __hash__ = str.__hash__

    TRADES = "trades"
    CANDLES = "candles"
    DEPTH = "depth"
    MARK_PRICES = "mark_prices"
    FUNDING_RATES = "funding_rates"
    TICKERS = "tickers"
    BOOK_TICKERS = "book_tickers"
    LIQUIDATIONS = "liquidations"
    ANALYTICS = "analytics"


# The indexed time field of each type: what `start` / `end` filter and what rows are sorted by.
TIME_FIELDS: dict[DataType, str] = {
    DataType.CANDLES: "open_time",
    DataType.TRADES: "trade_time",
    DataType.DEPTH: "event_time",
    DataType.MARK_PRICES: "event_time",
    DataType.FUNDING_RATES: "funding_time",
    DataType.TICKERS: "event_time",
    DataType.BOOK_TICKERS: "event_time",
    DataType.LIQUIDATIONS: "event_time",
    DataType.ANALYTICS: "as_of",
}


ANALYTICS_METRICS = (
    "volatility",
    "volume",
    "spread",
    "trend",
    "deviation",
    "seasonality",
    "correlation",
    "regime",
)
MARKET_DATA_TYPES = tuple(t for t in DataType if t is not DataType.ANALYTICS)


class InvalidName(ValueError):
    """A symbol, interval, metric or collection name outside the naming rules."""


@dataclass(frozen=True)
class SeriesRef:
    """What a collection holds: its data type, symbol and, where it has one, interval or metric."""

    data_type: DataType
    symbol: str
    interval: str | None = None
    metric: str | None = None

    def __post_init__(self):
        # Every stored row is grouped by its series: hash once, not per row.
        object.__setattr__(self, "_hash", hash((self.data_type, self.symbol, self.interval, self.metric)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def collection(self) -> str:
        suffix = self.interval or self.metric
        return f"{self.data_type}_{self.symbol}" + (f"_{suffix}" if suffix else "")


def normalize_symbol(value: object) -> str:
    text = str(value or "").strip()
    # ASCII only, checked before upper-casing: Unicode case mapping turns a dotless i into I and fullwidth letters
    # into other fullwidth letters, so a look-alike could otherwise become, or shadow, a real symbol.
    symbol = text.upper() if text.isascii() else ""
    if not SYMBOL_PATTERN.match(symbol):
        raise InvalidName(f"invalid symbol {value!r}: expected capital letters and digits, e.g. BTCUSDT")
    return symbol


def normalize_interval(value: object) -> str:
    interval = str(value or "").strip()
    if not is_interval(interval):
        raise InvalidName(f"invalid interval {value!r}: expected one of {', '.join(INTERVALS)}")
    return interval


def normalize_metric(value: object) -> str:
    metric = str(value or "").strip().lower()
    if metric not in ANALYTICS_METRICS:
        raise InvalidName(f"invalid metric {value!r}: expected one of {', '.join(ANALYTICS_METRICS)}")
    return metric


def series(
    data_type: DataType | str, symbol: str, *, interval: str | None = None, metric: str | None = None
) -> SeriesRef:
    """A validated reference to one time series."""
    try:
        data_type = DataType(data_type)
    except ValueError as exc:
        raise InvalidName(f"invalid data type {data_type!r}") from exc
    symbol = normalize_symbol(symbol)
    if data_type is DataType.CANDLES:
        return SeriesRef(data_type, symbol, interval=normalize_interval(interval))
    if data_type is DataType.ANALYTICS:
        return SeriesRef(data_type, symbol, metric=normalize_metric(metric))
    return SeriesRef(data_type, symbol)


def collection_name(data_type: DataType | str, symbol: str, **kwargs: str | None) -> str:
    return series(data_type, symbol, **kwargs).collection


def parse_collection(name: str) -> SeriesRef | None:
    """The series a collection name denotes, or None for collections outside the naming rules."""
    for data_type in sorted(DataType, key=lambda t: -len(t.value)):
        prefix = f"{data_type}_"
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        try:
            if data_type is DataType.CANDLES:
                symbol, _, interval = rest.rpartition("_")
                ref = series(data_type, symbol, interval=interval)
            elif data_type is DataType.ANALYTICS:
                symbol, _, metric = rest.rpartition("_")
                ref = series(data_type, symbol, metric=metric)
            else:
                ref = series(data_type, rest)
        except InvalidName:
            return None
        return ref if ref.collection == name else None
    return None
