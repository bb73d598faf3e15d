"""Query-parameter parsing for every API view: one place that turns request input into validated values.

Each function raises `BadParameter` (400, `{"detail": "<name>: <why>", "parameter": "<name>"}`) naming the parameter.
"""

import re
from collections.abc import Mapping
from datetime import datetime

from petrosa_dm.market.naming import InvalidName, normalize_interval, normalize_symbol

from .errors import BadParameter
from .market.timeutils import MAX_VALID, MIN_VALID, InvalidTime, parse_time

_MISSING = object()


def _raw(query: Mapping, name: str, required: bool) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, "this parameter is required")
        return None
    return value


def pair_param(query: Mapping, name: str = "pair", *, required: bool = True) -> str | None:
    """A symbol such as BTCUSDT (case-insensitive in, upper-case out)."""
    value = _raw(query, name, required)
    if value is None:
        return None
    try:
        return normalize_symbol(value)
    except InvalidName as exc:
        raise BadParameter(name, str(exc)) from exc


def pairs_param(query: Mapping, name: str = "pairs", *, minimum: int = 1, maximum: int = 20) -> list[str]:
    """A comma-separated list of distinct symbols."""
    value = _raw(query, name, True)
    pairs = []
    for item in str(value).split(","):
        try:
            symbol = normalize_symbol(item)
        except InvalidName as exc:
            raise BadParameter(name, str(exc)) from exc
        if symbol not in pairs:
            pairs.append(symbol)
    if not minimum <= len(pairs) <= maximum:
        raise BadParameter(name, f"expected {minimum} to {maximum} distinct pairs, got {len(pairs)}")
    return pairs


def period_param(query: Mapping, name: str = "period", *, required: bool = True, default: str | None = None) -> str:
    """A Binance kline interval (`1m` ... `1M`; case-sensitive: `1M` is a month)."""
    value = _raw(query, name, required and default is None)
    if value is None:
        return default  # type: ignore[return-value]
    try:
        return normalize_interval(value)
    except InvalidName as exc:
        raise BadParameter(name, str(exc)) from exc


def time_param(query: Mapping, name: str, *, required: bool = False) -> datetime | None:
    """ISO-8601 (`Z`, `+00:00`, `+00:00Z`) or epoch milliseconds, as an aware UTC datetime within the times the
    service stores (timeutils.MIN_VALID to MAX_VALID): anything outside, such as year 1 with a +14:00 offset or
    9999-12-31 -14:00, would overflow the date arithmetic of the reads (a 500) and can match no row anyway."""
    value = _raw(query, name, required)
    if value is None:
        return None
    try:
        moment = parse_time(value)
    except InvalidTime as exc:
        raise BadParameter(name, str(exc)) from exc
    except (OverflowError, ValueError, OSError) as exc:  # e.g. year 1 at +14:00 is before year 1 in UTC
        raise BadParameter(name, f"not a representable time: {value!r}") from exc
    if not MIN_VALID <= moment <= MAX_VALID:
        raise BadParameter(name, f"must be between {MIN_VALID:%Y-%m-%d} and {MAX_VALID:%Y-%m-%d}, got {value!r}")
    return moment


def int_param(query: Mapping, name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = _raw(query, name, False)
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise BadParameter(name, f"expected an integer, got {value!r}") from exc
    if not minimum <= number <= maximum:
        raise BadParameter(name, f"must be between {minimum} and {maximum}, got {number}")
    return number


def choice_param(query: Mapping, name: str, *, choices: tuple[str, ...], default: str) -> str:
    value = _raw(query, name, False)
    if value is None:
        return default
    if value not in choices:
        raise BadParameter(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def time_range(query: Mapping, start: str = "start", end: str = "end") -> tuple[datetime | None, datetime | None]:
    """`start` and `end`, with `start` before `end` when both are given."""
    begin, finish = time_param(query, start), time_param(query, end)
    if begin and finish and begin >= finish:
        raise BadParameter(start, f"must be before {end}")
    return begin, finish


_DURATION = re.compile(r"^(\d+)([mhdw])$")
_DURATION_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def window_param(
    query: Mapping, period: str, name: str = "window", *, default: str | None, minimum: int = 2, maximum: int
) -> tuple[str | None, int | None]:
    """A window as a bar count (`20`) or a duration (`90m`, `24h`, `30d`, `2w`) converted to bars of `period`.

    Returns (the window as given, bars). A duration shorter than `minimum` bars, or not a whole number of bars
    of a fixed-length period, is rejected naming the parameter.
    """
    from .market.intervals import INTERVAL_MS, MONTHLY

    text = _raw(query, name, False) or default
    if text is None:
        return None, None
    text = str(text).strip()
    if text.isdigit():
        bars = int(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise BadParameter(name, f"expected a bar count (20) or a duration (90m, 24h, 30d, 2w), got {text!r}")
        if period == MONTHLY:
            raise BadParameter(name, "a duration cannot be converted to 1M bars (months differ); give a bar count")
        duration_ms = int(match.group(1)) * _DURATION_MS[match.group(2)]
        bars, remainder = divmod(duration_ms, INTERVAL_MS[period])
        if remainder:
            raise BadParameter(name, f"{text} is not a whole number of {period} bars")
    if not minimum <= bars <= maximum:
        raise BadParameter(name, f"must be {minimum} to {maximum} bars of {period}, got {bars} ({text})")
    return text, bars
