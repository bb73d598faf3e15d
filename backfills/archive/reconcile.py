"""Reconciliation: the stored rows of a dataset compared with Binance's archive, value by value.

Every archive file over the range is downloaded and checked like an import, then streamed in chunks beside the
stored rows of the same keys (a merge by key: memory stays bounded). A value that differs (a candle's close), a row
only in the archive, and a row only in the store each become an audit finding (type `reconciliation`) with both
values. Nothing is written to the series; REST is never asked.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bson.decimal128 import Decimal128
from django.conf import settings

from audits.detectors import Finding
from audits.findings import findings_record
from audits.scan import CANDLE_FIELDS
from catalog.services import dataset_ensure
from ingestion import store
from petrosa_dm.market.naming import DataType, SeriesRef
from petrosa_dm.market.timeutils import utcnow

from . import planner
from .csvrows import PARSERS
from .download import ArchiveClient, ArchiveError, read_chunks, verify
from .layout import ARCHIVE_TYPES

logger = logging.getLogger(__name__)

# archive type -> (key field, fields compared)
COMPARED = {
    # A candle's fields are the auditor's list (audits.scan.CANDLE_FIELDS), keyed by its open time.
    "klines": ("open_time", tuple(name for name in CANDLE_FIELDS if name != "open_time")),
    "aggTrades": ("trade_id", ("price", "quantity", "first_trade_id", "last_trade_id", "trade_time", "is_buyer_maker")),
    "trades": ("trade_id", ("price", "quantity", "trade_time", "is_buyer_maker")),
    "fundingRate": ("funding_time", ("funding_rate",)),
    "bookTicker": ("update_id", ("bid_price", "bid_quantity", "ask_price", "ask_quantity", "transaction_time")),
}


@dataclass
class Reconciliation:
    files: list[dict] = field(default_factory=list)
    rows_compared: int = 0
    differing: int = 0
    archive_only: int = 0
    store_only: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_created: int = 0

    @property
    def differences(self) -> int:
        return self.differing + self.archive_only + self.store_only


def _show(value):
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _same(stored, archived) -> bool:
    if isinstance(stored, Decimal128) and isinstance(archived, Decimal128):
        return stored.to_decimal() == archived.to_decimal()  # 6.960 and 6.96 are the same price
    return stored == archived


def data_type_of(ref: SeriesRef, kind: str) -> str:
    if ref.data_type is DataType.TRADES:
        return "raw_trades" if kind == "trade" else "trades"
    return ref.data_type.value


class _Comparer:
    def __init__(self, ref: SeriesRef, archive_type: str, result: Reconciliation, limit: int) -> None:
        self.ref, self.result, self.limit = ref, result, limit
        self.key, self.fields = COMPARED[archive_type]
        self.time_field = PARSERS[archive_type][2]
        self.kind = {"aggTrades": "aggTrade", "trades": "trade"}.get(archive_type)
        self.collection = store.collection(ref)

    def _add(self, kind: str, key, message: str, details: dict) -> None:
        if len(self.result.findings) < self.limit:
            self.result.findings.append(
                Finding(
                    audit_type="reconciliation",
                    severity="error",
                    message=message,
                    key=f"reconcile:{kind}:{_show(key)}",
                    details={"key": self.key, "value": _show(key), "difference": kind, **details},
                )
            )

    def _stored(self, low, high, segment: planner.Segment, *, high_inclusive: bool = True) -> dict:
        key_range = {} if low is None else {"$gt": low}
        if high is not None:
            key_range["$lte" if high_inclusive else "$lt"] = high
        query = {self.time_field: {"$gte": segment.start, "$lt": segment.end}}
        if key_range:
            query[self.key] = {**query.get(self.key, {}), **key_range}  # candles: the key is the time field
        if self.kind:
            query["kind"] = self.kind
        return {row[self.key]: row for row in self.collection.find(query, {"_id": 0})}

    def compare(self, rows: list[dict], low, segment: planner.Segment):
        """Compare one chunk (sorted by key) with the stored rows whose keys fall after `low` up to its last key."""
        high = rows[-1][self.key]
        stored = self._stored(low, high, segment)
        for row in rows:
            key = row[self.key]
            mine = stored.pop(key, None)
            self.result.rows_compared += 1
            if mine is None:
                self.result.archive_only += 1
                archive = {name: _show(row.get(name)) for name in self.fields}
                self._add(
                    "archive_only",
                    key,
                    f"{self.key} {_show(key)} is in the archive, not in the store",
                    {"archive": archive, "stored": None},
                )
                continue
            differing = {
                name: (_show(mine.get(name)), _show(row.get(name)))
                for name in self.fields
                if not _same(mine.get(name), row.get(name))
            }
            if differing:
                self.result.differing += 1
                names = ", ".join(differing)
                self._add(
                    "value",
                    key,
                    f"{self.key} {_show(key)}: {names} differ from the archive",
                    {"fields": {name: {"stored": s, "archive": a} for name, (s, a) in differing.items()}},
                )
        self._store_only(stored)
        return high

    def _store_only(self, stored: dict) -> None:
        for key, mine in stored.items():
            self.result.store_only += 1
            self._add(
                "store_only",
                key,
                f"{self.key} {_show(key)} is in the store, not in the archive",
                {"stored": {name: _show(mine.get(name)) for name in self.fields}, "archive": None},
            )

    def finish(self, low, segment: planner.Segment) -> None:
        self._store_only(self._stored(low, None, segment))


def reconcile(*, ref: SeriesRef, start: datetime, end: datetime, client: ArchiveClient | None = None) -> Reconciliation:
    """Compare the dataset over [start, end) with the archive files covering it; record findings."""
    collection = store.collection(ref)
    kind = "aggTrade"
    if ref.data_type is DataType.TRADES and not collection.find_one({"kind": "aggTrade"}, {"_id": 1}):
        kind = "trade" if collection.find_one({"kind": "trade"}, {"_id": 1}) else "aggTrade"
    data_type = data_type_of(ref, kind)
    if data_type not in ARCHIVE_TYPES:
        raise ValueError(f"{ref.collection}: Binance publishes no archive for {data_type}")
    archive_type = ARCHIVE_TYPES[data_type][0]
    segments = planner.plan(
        data_type=data_type,
        symbol=ref.symbol,
        start=start,
        end=end,
        interval=ref.interval or "",
        mode=planner.ARCHIVE,
        now=utcnow(),
    )
    result = Reconciliation()
    comparer = _Comparer(ref, archive_type, result, settings.RECONCILE_MAX_FINDINGS)
    client = client or ArchiveClient()
    try:
        for segment in segments:
            if segment.kind != planner.ARCHIVE:
                result.files.append(
                    {"start": segment.start.isoformat(), "end": segment.end.isoformat(), "outcome": "not published"}
                )
                continue
            _compare_file(client, comparer, segment, result)
    finally:
        client.close()
    dataset, _ = dataset_ensure(ref=ref)
    result.findings_created = findings_record(dataset=dataset, findings=result.findings)
    return result


def _compare_file(client: ArchiveClient, comparer: _Comparer, segment: planner.Segment, result: Reconciliation):
    file = segment.file
    try:
        downloaded = verify(client.download(file, directory=settings.ARCHIVE_DOWNLOAD_DIR))
    except ArchiveError as exc:
        result.files.append({"file": file.url(client.base_url), "outcome": "unusable", "reason": exc.reason})
        return
    try:
        low = None
        for chunk in read_chunks(downloaded, now=utcnow(), chunk_rows=settings.ARCHIVE_CHUNK_ROWS):
            rows = [row for row in chunk if segment.start <= row[comparer.time_field] < segment.end]
            if rows:
                low = comparer.compare(rows, low, segment)
        comparer.finish(low, segment)
        result.files.append({"file": file.url(client.base_url), "outcome": "compared", "sha256": downloaded.sha256})
    finally:
        downloaded.discard()
