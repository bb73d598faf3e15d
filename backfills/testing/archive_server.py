"""A local stand-in for Binance's public data archives (data.binance.vision): a real HTTP server for tests and
benchmarks, serving zips in Binance's layout (`data/futures/um/{monthly,daily}/{type}/{SYMBOL}/...zip` and
`.CHECKSUM` beside each) that are built at test time from CSV text, e.g. the real candles in ../shared/data.

It can serve a wrong checksum, a truncated zip (with or without a checksum that matches the truncated bytes), a
CSV with a bad row, missing files (404: anything not added), 5xx and slow answers; it records every request.

    with ArchiveTestServer() as archive:
        archive.add(file, csv_bytes)
        archive.url  # http://127.0.0.1:<port>
"""

import hashlib
import io
import shutil
import threading
import time
import zipfile
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from backfills.archive.layout import DAILY, MONTHLY, ArchiveFile, archive_file

KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
)
AGG_TRADES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"


@dataclass
class Served:
    path: str
    status: int
    at: float = 0.0


def make_zip(name: str, csv_bytes: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, csv_bytes)
    return buffer.getvalue()


class ArchiveTestServer:
    def __init__(self, *, latency: float = 0.0, slow_seconds: float = 3.0) -> None:
        self.blobs: dict[str, bytes | Path] = {}
        self.latency, self.slow_seconds = latency, slow_seconds
        self.requests: list[Served] = []
        self._faults: deque[tuple[str, str | None]] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> "ArchiveTestServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="archive-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "ArchiveTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- content ---------------------------------------------------------------------------------------------

    def add(self, file: ArchiveFile, csv_bytes: bytes) -> None:
        """Publish `file` holding `csv_bytes`, with its correct `.CHECKSUM`."""
        blob = make_zip(file.name.removesuffix(".zip") + ".csv", csv_bytes)
        self.put_zip(file, blob)

    def put_zip(self, file: ArchiveFile, blob: bytes, *, checksum_of: bytes | None = None) -> None:
        digest = hashlib.sha256(blob if checksum_of is None else checksum_of).hexdigest()
        with self._lock:
            self.blobs["/" + file.path] = blob
            self.blobs["/" + file.path + ".CHECKSUM"] = f"{digest}  {file.name}\n".encode()

    def add_zip_path(self, file: ArchiveFile, zip_path: str, sha256: str) -> None:
        """Publish a zip already on disk (big generated files): served from the disk, never held in memory."""
        with self._lock:
            self.blobs["/" + file.path] = Path(zip_path)
            self.blobs["/" + file.path + ".CHECKSUM"] = f"{sha256}  {file.name}\n".encode()

    def corrupt_checksum(self, file: ArchiveFile) -> None:
        """The `.CHECKSUM` names another file's hash."""
        self.blobs["/" + file.path + ".CHECKSUM"] = f"{'0' * 64}  {file.name}\n".encode()

    def truncate(self, file: ArchiveFile, *, keep: float = 0.6, checksum_matches: bool = True) -> None:
        """Cut the zip short; with `checksum_matches` the `.CHECKSUM` is of the cut bytes (a bad upload)."""
        blob = self.blobs["/" + file.path]
        cut = blob[: int(len(blob) * keep)]
        self.put_zip(file, cut, checksum_of=cut if checksum_matches else blob)

    def remove(self, file: ArchiveFile) -> None:
        with self._lock:
            self.blobs.pop("/" + file.path, None)
            self.blobs.pop("/" + file.path + ".CHECKSUM", None)

    def inject(self, kind: str, times: int = 1, path: str | None = None) -> None:
        """Answer the next `times` requests (ending in `path`, or any) with "500", "503" or "timeout"."""
        with self._lock:
            self._faults.extend((kind, path) for _ in range(times))

    def zip_requests(self, status: int | None = None) -> list[Served]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(".zip") and (status is None or r.status == status)]

    # --- serving ---------------------------------------------------------------------------------------------

    def handle(self, path: str) -> tuple[int, bytes, float]:
        with self._lock:
            fault = next((f for f in self._faults if f[1] is None or path.endswith(f[1])), None)
            if fault:
                self._faults.remove(fault)
            if fault and fault[0] in ("500", "502", "503"):
                status, body, delay = int(fault[0]), b"Internal Server Error", 0.0
            else:
                body = self.blobs.get(path)
                status = 200 if body is not None else 404
                body = body if body is not None else b"<Error><Code>NoSuchKey</Code></Error>"
                delay = self.slow_seconds if fault and fault[0] == "timeout" else self.latency
            self.requests.append(Served(path, status, time.monotonic()))
        return status, body, delay


def _handler_for(server: ArchiveTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            status, body, delay = server.handle(urlsplit(self.path).path)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/zip" if status == 200 else "application/xml")
                length = body.stat().st_size if isinstance(body, Path) else len(body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if isinstance(body, Path):
                    with body.open("rb") as source:
                        shutil.copyfileobj(source, self.wfile, 1 << 20)
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


# --- building files from recorded data ---------------------------------------------------------------------------


def _day_of(ms: int) -> datetime:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def publish_rows(
    server: ArchiveTestServer,
    *,
    data_type: str,
    symbol: str,
    lines: Iterable[tuple[int, str]],
    header: str | None,
    interval: str = "",
    periods: tuple[str, ...] = (MONTHLY, DAILY),
    skip_days: Iterable[datetime] = (),
) -> dict[ArchiveFile, int]:
    """Publish (time ms, CSV line) pairs as monthly and daily files of the series; `skip_days` get no daily file.
    Returns the rows per file."""
    by_file: dict[ArchiveFile, list[str]] = {}
    skipped = {day.date() for day in skip_days}
    for moment_ms, line in lines:
        day = _day_of(moment_ms)
        for period in periods:
            if period == DAILY and day.date() in skipped:
                continue
            by_file.setdefault(archive_file(data_type, period, symbol, day, interval), []).append(line)
    for file, rows in by_file.items():
        text = ([header] if header else []) + rows
        server.add(file, ("\n".join(text) + "\n").encode())
    return {file: len(rows) for file, rows in by_file.items()}


def kline_lines(csv_path) -> list[tuple[int, str]]:
    """A data.binance.vision klines CSV (with header) as (open time, line) pairs."""
    with open(csv_path) as source:
        lines = [line.rstrip("\n") for line in source]
    return [(int(line.split(",", 1)[0]), line) for line in lines[1:] if line]
