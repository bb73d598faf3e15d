"""One NATS message to rows: unwrap whatever carries the events, then build each event's rows.

Accepted carriers: the socket client's envelope `{"stream", "data", "timestamp", "message_id", "source",
"version", ...}`, Binance's combined-stream wrapper `{"stream", "data"}`, a bare event `{"e": ...}`, and arrays
of events (`!markPrice@arr`, `!ticker@arr`), bare or wrapped. Extra keys (trace context and so on) are ignored.

A message whose carrier is unusable, or whose single event is invalid, raises `InvalidMessage`. In an array, each
invalid event is rejected on its own (returned in `rejected`) and the valid ones are kept: one bad ticker must not
cost the other three hundred symbols their update.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from petrosa_dm.market.timeutils import InvalidTime, parse_time
from petrosa_dm.tracing import trace_carrier

from .errors import ImpossibleTime, InvalidJson, InvalidMessage, NoEvent, ParserBug, UnknownSymbol, WrongType
from .events import BUILDERS, Context, Rows

# Event times further than this past the time of parsing are rejected: one candle dated 2099 would otherwise become
# the newest row of its series and spoil its health figures (issue 15, finding 6).
MAX_FUTURE_SKEW = timedelta(minutes=5)
# The times of a row that say when it happened (a funding row's next funding time is in the future by design).
HAPPENED_AT = ("event_time", "open_time", "trade_time")

# Rejections kept per message (each with its event's index and error); the rest are only counted. A hostile
# message of 40,000 bad events must cost the consumer neither memory nor a dead letter per event (issue 15).
MAX_REJECTIONS = 100


@dataclass(slots=True)
class Rejected:
    """One event of an array payload that could not be stored: its index in the array and why."""

    error: InvalidMessage
    index: int


@dataclass(slots=True)
class ParsedMessage:
    rows: Rows = field(default_factory=list)
    events: int = 0
    ignored: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTIONS
    rejected_count: int = 0  # every rejected event, kept or not
    published_at: datetime | None = None
    trace_carrier: dict | None = None  # the publisher's W3C trace context, when the envelope carries one


def parse_message(
    raw: bytes | str,
    *,
    ingested_at: datetime,
    max_rejections: int = MAX_REJECTIONS,
    known_symbols: frozenset[str] | None = None,
    max_future_skew: timedelta = MAX_FUTURE_SKEW,
) -> ParsedMessage:
    """The rows of one message; raises InvalidMessage (with its `reason`) when nothing in it can be stored."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"not JSON: {exc}") from None
    events, stream, published_at = _unwrap(payload)
    parsed = ParsedMessage(events=len(events), published_at=published_at)
    if type(payload) is dict and published_at is not None:
        parsed.trace_carrier = trace_carrier(payload)
    context = Context(
        ingested_at=ingested_at, stream=stream, known_symbols=known_symbols, latest=ingested_at + max_future_skew
    )
    if len(events) == 1:
        _add(parsed, events[0], context)
        return parsed
    for index, event in enumerate(events):
        try:
            _add(parsed, event, context)
        except InvalidMessage as exc:
            parsed.rejected_count += 1
            if len(parsed.rejected) < max_rejections:
                parsed.rejected.append(Rejected(error=exc, index=index))
    return parsed


def _unwrap(payload: object) -> tuple[list, str | None, datetime | None]:
    """(events, stream label, publish time of the envelope)."""
    if type(payload) is list:
        return _events(payload), None, None
    if type(payload) is not dict:
        raise NoEvent(f"expected a JSON object or array, got {type(payload).__name__}")
    if "e" in payload:
        return [payload], None, None
    if "data" not in payload:
        raise NoEvent("no event: neither an event type 'e' nor a 'data' field")
    data = payload["data"]
    if type(data) is dict and "e" not in data and "data" in data:
        data = data["data"]  # an envelope around a combined-stream wrapper
    stream = payload.get("stream")
    return _events(data), stream if type(stream) is str else None, _published_at(payload)


def _events(data: object) -> list:
    if type(data) is dict:
        return [data]
    if type(data) is list and data:
        return data
    raise NoEvent(f"'data' holds no event ({type(data).__name__})")


def _published_at(payload: dict) -> datetime | None:
    # The envelope's time only feeds the publish-to-store lag metric; a bad one does not spoil the event.
    timestamp = payload.get("timestamp")
    if timestamp is None:
        return None
    try:
        return parse_time(timestamp)
    except InvalidTime:
        return None


def _add(parsed: ParsedMessage, event: object, context: Context) -> None:
    if type(event) is not dict:
        raise NoEvent(f"an event must be an object, got {type(event).__name__}")
    event_type = event.get("e")
    if event_type is None:
        raise NoEvent("no event type 'e'")
    if type(event_type) is not str:
        # The type's name, not the value's repr: a deeply nested value would overflow repr's recursion.
        raise WrongType(f"event type 'e' must be a string, got {type(event_type).__name__}")
    builder = BUILDERS.get(event_type)
    if builder is None:
        parsed.ignored += 1
        return
    try:
        rows = builder(event, context)
    except InvalidMessage:
        raise
    except Exception as exc:  # a parser bug must not stop the consumer: the message is dead-lettered instead
        raise ParserBug(f"{type(exc).__name__}: {exc}") from exc
    known, latest = context.known_symbols, context.latest
    for ref, row in rows:
        if known is not None and ref.symbol not in known:
            raise UnknownSymbol(f"symbol {ref.symbol} is not listed by the exchange")
        if latest is not None:
            for name in HAPPENED_AT:
                moment = row.get(name)
                if moment is not None and moment > latest:
                    raise ImpossibleTime(f"{name} {moment.isoformat()} is in the future (after {latest.isoformat()})")
    if rows:
        parsed.rows.extend(rows)
    else:
        parsed.ignored += 1
