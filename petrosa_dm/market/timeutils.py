"""Time parsing and conversion: the one place that turns exchange and request times into aware UTC datetimes.

Binance sends epoch milliseconds; the socket client's envelope and API callers send ISO-8601 with `Z`, `+00:00`
or even `+00:00Z`. Inside the program every time is a timezone-aware UTC datetime.
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
