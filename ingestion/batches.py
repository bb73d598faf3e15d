"""A fetched batch of messages, parsed and grouped for writing: rows per series, dead letters, counts.

Pure and synchronous (no I/O), so it is tested directly and the consumer only moves batches around.
"""

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from petrosa_dm.market.naming import SeriesRef
from petrosa_dm.tracing import consumed_message_span, tracing_enabled

from .keys import id_builder
from .parsing import InvalidMessage, parse_message
from .parsing.errors import ParserBug
from .parsing.messages import MAX_FUTURE_SKEW, MAX_REJECTIONS
from .store import VERSION_FIELD

# A dead letter keeps this much of its message's payload (with the whole payload's size and SHA-256): enough to
# read what went wrong, never a copy of a megabyte-sized hostile message per rejected event.
MAX_RAW_BYTES = 16 * 1024
MAX_ERROR_CHARS = 300


@dataclass
class Batch:
    rows: dict[SeriesRef, list[dict]] = field(default_factory=dict)
    dead_letters: list[dict] = field(default_factory=list)
    failed: Counter = field(default_factory=Counter)
    messages: int = 0
    ignored: int = 0
    published_at: list[datetime] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def batch_parse(
    *,
    payloads: list[tuple[bytes, str]],
    ingested_at: datetime,
    message_id: Callable[[int], str | None] = lambda index: None,
    max_raw_bytes: int = MAX_RAW_BYTES,
    max_rejections: int = MAX_REJECTIONS,
    known_symbols: frozenset[str] | None = None,
    max_future_skew: timedelta = MAX_FUTURE_SKEW,
) -> Batch:
    """Parse (payload, subject) pairs: valid events become rows grouped by series, bad ones dead letters.

    A message gets at most one dead letter, however many of its events were rejected: the payload once (cut at
    `max_raw_bytes`, with its size and SHA-256), the first rejection's reason and error, and the first
    `max_rejections` rejections by event index. `message_id(i)` names the i-th message for good (e.g. its JetStream
    stream sequence): it becomes the dead letter's `_id`, so a redelivered bad message is not dead-lettered twice."""
    batch = Batch(messages=len(payloads))
    limits = (max_raw_bytes, max_rejections)
    grouped: dict[SeriesRef, list[dict]] = {}
    traced = tracing_enabled()  # asked once per batch: tracing off costs nothing per message
    for index, (payload, subject) in enumerate(payloads):
        try:
            parsed = parse_message(
                payload,
                ingested_at=ingested_at,
                max_rejections=max_rejections,
                known_symbols=known_symbols,
                max_future_skew=max_future_skew,
            )
        except InvalidMessage as exc:
            _reject(batch, [(None, exc)], 1, payload, subject, ingested_at, message_id(index), limits)
            continue
        except Exception as exc:  # no input may stop the consumer: whatever the parser missed is dead-lettered
            bug = ParserBug(f"{type(exc).__name__}: {exc}")
            _reject(batch, [(None, bug)], 1, payload, subject, ingested_at, message_id(index), limits)
            continue
        if traced:
            with consumed_message_span(parsed.trace_carrier, destination=subject, events=parsed.events):
                pass
        for ref, row in parsed.rows:
            series_rows = grouped.get(ref)
            if series_rows is None:
                grouped[ref] = series_rows = []
            series_rows.append(row)
        if parsed.rejected_count:
            rejections = [(rejected.index, rejected.error) for rejected in parsed.rejected]
            count = parsed.rejected_count
            _reject(batch, rejections, count, payload, subject, ingested_at, message_id(index), limits)
        batch.ignored += parsed.ignored
        if parsed.published_at is not None:
            batch.published_at.append(parsed.published_at)
    batch.rows = {ref: _newest_versions(ref, rows) for ref, rows in grouped.items()}
    return batch


def payload_record(raw: bytes | str, max_raw_bytes: int) -> dict:
    """A dead letter's copy of its payload: the text cut at `max_raw_bytes`, the whole size and SHA-256."""
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw
    record = {
        "raw": data[:max_raw_bytes].decode("utf-8", errors="replace"),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if len(data) > max_raw_bytes:
        record["truncated"] = True
    return record


def _reject(
    batch: Batch,
    rejections: list[tuple[int | None, InvalidMessage]],
    count: int,
    raw: bytes | str,
    subject: str,
    received_at: datetime,
    letter_id: str | None,
    limits: tuple[int, int],
) -> None:
    """One dead letter for a message: its payload once (cut to size), and why its events were rejected."""
    max_raw_bytes, _ = limits
    for _index, error in rejections:
        batch.failed[error.reason] += 1
    if count > len(rejections):  # rejections past the cap are counted under the first one's reason
        batch.failed[rejections[0][1].reason] += count - len(rejections)
    first = rejections[0][1]
    letter = {
        **payload_record(raw, max_raw_bytes),
        "subject": subject,
        "reason": first.reason,
        "error": str(first)[:MAX_ERROR_CHARS],
        "received_at": received_at,
    }
    if rejections[0][0] is not None:  # events of an array: which ones, and why
        letter["rejected_events"] = count
        letter["rejections"] = [
            {"index": index, "reason": error.reason, "error": str(error)[:MAX_ERROR_CHARS]}
            for index, error in rejections
        ]
    if letter_id is not None:
        letter["_id"] = letter_id
    batch.dead_letters.append(letter)


def _newest_versions(ref: SeriesRef, rows: list[dict]) -> list[dict]:
    """For versioned series (candles, funding rates) keep only the newest update of each key in the batch.

    An open candle is updated several times a second; writing only its latest state per batch saves the store
    most of those upserts and leaves the same result, because the newer event wins anyway."""
    version = VERSION_FIELD.get(ref.data_type)
    if version is None or len(rows) < 2:
        return rows
    row_key = id_builder(ref.data_type)
    newest: dict = {}
    for row in rows:
        key = row_key(row)
        if type(key) is dict:  # a compound `_id` (analytics): its values identify it
            key = tuple(key.values())
        kept = newest.get(key)
        if kept is None or row[version] > kept[version]:
            newest[key] = row
    return list(newest.values())
