"""A fetched batch of messages, parsed and grouped for writing: rows per series, dead letters, counts.

Pure and synchronous (no I/O), so it is tested directly and the consumer only moves batches around.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from petrosa_dm.market.naming import SeriesRef
from petrosa_dm.tracing import consumed_message_span, tracing_enabled

from .keys import id_builder
from .parsing import InvalidMessage, parse_message
from .parsing.errors import ParserBug
from .store import VERSION_FIELD


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
) -> Batch:
    """Parse (payload, subject) pairs: valid events become rows grouped by series, bad ones dead letters.

    `message_id(i)` names the i-th message for good (e.g. its JetStream stream sequence): it becomes the dead
    letter's `_id`, so a redelivered bad message is not dead-lettered twice."""
    batch = Batch(messages=len(payloads))
    grouped: dict[SeriesRef, list[dict]] = {}
    traced = tracing_enabled()  # asked once per batch: tracing off costs nothing per message
    for index, (payload, subject) in enumerate(payloads):
        try:
            parsed = parse_message(payload, ingested_at=ingested_at)
        except InvalidMessage as exc:
            _reject(batch, exc, payload, subject, ingested_at, message_id(index))
            continue
        except Exception as exc:  # no input may stop the consumer: whatever the parser missed is dead-lettered
            bug = ParserBug(f"{type(exc).__name__}: {exc}")
            _reject(batch, bug, payload, subject, ingested_at, message_id(index))
            continue
        if traced:
            with consumed_message_span(parsed.trace_carrier, destination=subject, events=parsed.events):
                pass
        for ref, row in parsed.rows:
            series_rows = grouped.get(ref)
            if series_rows is None:
                grouped[ref] = series_rows = []
            series_rows.append(row)
        for number, rejected in enumerate(parsed.rejected):
            letter_id = message_id(index)
            _reject(batch, rejected.error, rejected.raw, subject, ingested_at, letter_id and f"{letter_id}:{number}")
        batch.ignored += parsed.ignored
        if parsed.published_at is not None:
            batch.published_at.append(parsed.published_at)
    batch.rows = {ref: _newest_versions(ref, rows) for ref, rows in grouped.items()}
    return batch


def _reject(
    batch: Batch, error: InvalidMessage, raw: bytes | str, subject: str, received_at: datetime, letter_id: str | None
) -> None:
    batch.failed[error.reason] += 1
    letter = {
        "raw": raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw,
        "subject": subject,
        "reason": error.reason,
        "error": str(error),
        "received_at": received_at,
    }
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
