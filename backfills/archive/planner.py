"""The cheapest source per range: monthly files for whole published months, daily files for whole published
days, REST for the rest (today, partial days at the edges, and any file Binance turns out not to have).

`auto` plans that. `archive` covers the whole range with files (a partial day is read from its day's file and cut
to the range). `rest` is one REST segment. Types without REST history (raw trades, book tickers) get `none` where
no file can serve; depth snapshots and id ranges are REST only.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from petrosa_dm.market.intervals import MONTHLY as MONTHLY_INTERVAL
from petrosa_dm.market.intervals import interval_delta

from .layout import ARCHIVE_TYPES, DAILY, MONTHLY, ArchiveFile, archive_file, day_start, month_start, next_month

REST, ARCHIVE, NONE = "rest", "archive", "none"
REST_TYPES = ("candles", "trades", "funding_rates", "depth")
# Binance publishes a day's file during the next day, a month's early in the next month.
PUBLISH_DELAY = timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    kind: str  # archive, rest or none
    start: datetime
    end: datetime
    file: ArchiveFile | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "file": self.file.to_dict() if self.file else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Segment":
        return cls(
            kind=data["kind"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            file=ArchiveFile.from_dict(data["file"]) if data.get("file") else None,
        )


def _fallback(data_type: str) -> str:
    return REST if data_type in REST_TYPES else NONE


def _published(file_end: datetime, now: datetime) -> bool:
    return file_end + PUBLISH_DELAY <= now


def _covers(file_end: datetime, end: datetime, data_type: str, interval: str) -> bool:
    """Does a range ending at `end` (exclusive) want every row of a file ending at `file_end`? For candles, yes
    once the file's last candle opens before `end` (a gap repair ends at the last missing candle's close)."""
    if file_end <= end:
        return True
    return data_type == "candles" and interval != MONTHLY_INTERVAL and file_end - interval_delta(interval) < end


def plan(
    *, data_type: str, symbol: str, start: datetime, end: datetime, interval: str = "", mode: str, now: datetime
) -> list[Segment]:
    """Segments covering [start, end) in order."""
    if data_type not in ARCHIVE_TYPES or mode == REST:
        return [Segment(_fallback(data_type), start, end)]
    _archive_type, periods = ARCHIVE_TYPES[data_type]
    segments: list[Segment] = []
    cursor = start
    while cursor < end:
        segment = _next_file(data_type, symbol, interval, cursor, end, periods, mode, now)
        if segment is None:  # nothing archived from here: the rest of the range is REST's
            segments.append(Segment(_fallback(data_type), cursor, end))
            break
        if segment.start > cursor:
            segments.append(Segment(_fallback(data_type), cursor, segment.start))
        segments.append(segment)
        cursor = segment.end
    return _merge(segments)


def _next_file(data_type, symbol, interval, cursor, end, periods, mode, now) -> Segment | None:
    """The first file to use at or after `cursor`: a whole month, else a whole day (archive mode: any day)."""
    day = day_start(cursor)
    if day < cursor:
        if mode == ARCHIVE and DAILY in periods and _published(day + timedelta(days=1), now):
            file = archive_file(data_type, DAILY, symbol, day, interval)
            return Segment(ARCHIVE, cursor, min(end, file.end), file)
        day += timedelta(days=1)
    while day < end:
        month = month_start(day)
        covered = _covers(next_month(month), end, data_type, interval)
        whole_month = month == day and covered and _published(next_month(month), now)
        if MONTHLY in periods and whole_month:
            file = archive_file(data_type, MONTHLY, symbol, month, interval)
            return Segment(ARCHIVE, file.start, min(end, file.end), file)
        day_end = day + timedelta(days=1)
        if (
            DAILY in periods
            and _published(day_end, now)
            and (_covers(day_end, end, data_type, interval) or mode == ARCHIVE)
        ):
            file = archive_file(data_type, DAILY, symbol, day, interval)
            return Segment(ARCHIVE, max(cursor, file.start), min(end, file.end), file)
        if mode == ARCHIVE and MONTHLY in periods and DAILY not in periods and _published(next_month(month), now):
            file = archive_file(data_type, MONTHLY, symbol, month, interval)  # funding: monthly files only
            return Segment(ARCHIVE, max(cursor, file.start), min(end, file.end), file)
        if not _published(day_end, now):
            return None
        day = day_end
    return None


def _merge(segments: list[Segment]) -> list[Segment]:
    """Adjacent non-archive segments become one (a REST run pages straight through)."""
    merged: list[Segment] = []
    for segment in segments:
        if merged and segment.kind != ARCHIVE and merged[-1].kind == segment.kind:
            merged[-1] = Segment(segment.kind, merged[-1].start, segment.end)
        else:
            merged.append(segment)
    return merged
