"""Time parsing, conversion and spelling: the one place that turns exchange and request times into aware UTC
datetimes, and times into the API's text (`time_text`).

Binance sends epoch milliseconds; the socket client's envelope and API callers send ISO-8601 with `Z`, `+00:00`
or even `+00:00Z`. Inside the program every time is a timezone-aware UTC datetime, apart from the rows of pages
read only to be shown (naive UTC: `petrosa_dm.mongo.shown`).
"""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Years outside this range are not market data; they are corrupt input (e.g. seconds sent as milliseconds * 1000).
MIN_VALID = datetime(2010, 1, 1, tzinfo=UTC)
MAX_VALID = datetime(2100, 1, 1, tzinfo=UTC)


class InvalidTime(ValueError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime (exact to the millisecond)."""
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise InvalidTime(f"expected integer milliseconds, got {ms!r}")
    try:
        return EPOCH + timedelta(milliseconds=ms)
    except OverflowError as exc:
        raise InvalidTime(f"milliseconds out of range: {ms!r}") from exc


def to_ms(moment: datetime) -> int:
    moment = ensure_utc(moment)
    delta = moment - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ensure_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the store and Binance are UTC); aware ones are converted."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time(value: object) -> datetime:
    """Parse an ISO-8601 string (`Z`, `+00:00`, `+00:00Z`), epoch milliseconds (int or digits) or a datetime."""
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return from_ms(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidTime(f"not a time: {value!r}")
    text = value.strip()
    if text.lstrip("-").isdigit():
        return from_ms(int(text))
    if text.endswith("Z") and ("+" in text[10:] or text[10:].count("-") > 0):
        text = text[:-1]  # "+00:00Z": an offset and a Z, as some publishers send
    elif text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return ensure_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise InvalidTime(f"not an ISO-8601 time or epoch milliseconds: {value!r}") from exc


def is_plausible(moment: datetime) -> bool:
    return MIN_VALID <= moment < MAX_VALID


# --- display: what a person reads (console, messages, logs) ---------------------------------------------------------


def time_text(value: object) -> str | None:
    """ISO-8601 UTC with millisecond precision (the store's precision) and a `Z`.

    The store hands back UTC datetimes, and so do the time parsers: naive ones from pages read to be shown
    (`mongo.shown`), aware ones elsewhere. A naive one's `isoformat()` is C code: "2024-08-08T00:00:00" or
    "2024-08-08T00:00:59.999000", cut to milliseconds (0.5 us; 0.7 us with `timespec`, which parses its keyword
    each call). An aware one's calls the store's Python tzinfo for the offset that is then cut off, so its fields
    are formatted directly (0.8 us, against 2 us through `isoformat`)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        text = value.isoformat()
        return text[:23] + "Z" if len(text) > 19 else text + ".000Z"
    # %-formatting: measured 2.3x faster than the same f-string with format specs.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 1000,
    )


def format_utc(value: datetime | None) -> str:
    """`2024-08-08 23:55:39 UTC`: seconds, 24-hour clock, and the zone named."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | timedelta | None) -> str:
    """A span in words for a person: `20 h 17 min`, `3 d 4 h`, `45 s`. The two largest units, never a bare number."""
    if seconds is None:
        return ""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    total = round(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    shown = [f"{n} {unit}" for n, unit in parts[first : first + 2] if n or unit == parts[first][1]]
    return ("-" if seconds < 0 else "") + " ".join(shown)
