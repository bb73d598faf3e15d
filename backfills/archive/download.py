"""Download one archive file and its `.CHECKSUM`, verify it, and open its CSV as a stream.

The zip is streamed to a temporary file while its SHA-256 is computed (memory stays flat for gigabyte files);
nothing from a file is written to the store before its checksum matches and every row of it parsed (`verify`).
404 means the file is not published (the planner falls back to REST for its range); 5xx, timeouts and dropped
connections are retried with exponential backoff and jitter, like REST, a bounded number of times.
"""

import hashlib
import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from .csvrows import LINE_PATTERNS, BadRow, is_header_line, parse_chunks
from .layout import ArchiveFile

logger = logging.getLogger(__name__)
DOWNLOAD_CHUNK = 1 << 20


class ArchiveError(Exception):
    """A file that cannot be used; the job names it and the reason."""

    def __init__(self, file: ArchiveFile, reason: str) -> None:
        self.file, self.reason = file, reason
        super().__init__(f"{file.path}: {reason}")


class ArchiveMissing(ArchiveError):
    """HTTP 404: Binance has not published this file (a day not yet out, a symbol not listed then)."""


class ArchiveRejected(ArchiveError):
    """Checksum mismatch, a truncated or corrupt zip, a row that does not parse: the whole file is refused."""


class ArchiveUnavailable(ArchiveError):
    """Retries exhausted on 5xx, timeouts or dropped connections."""


class _Retryable(Exception):
    pass


@dataclass
class Downloaded:
    file: ArchiveFile
    path: str
    sha256: str
    size: int
    rows: int = 0

    def discard(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self.path)


class ArchiveClient:
    def __init__(self, *, base_url: str | None = None) -> None:
        self.base_url = (base_url or settings.BINANCE_ARCHIVE_BASE_URL).rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "petrosa-data-manager backfiller"
        self.timeout = (settings.BINANCE_CONNECT_TIMEOUT, settings.ARCHIVE_READ_TIMEOUT)
        self.requests_made = 0
        self.bytes_downloaded = 0

    def close(self) -> None:
        self.session.close()

    def _retrying(self, file: ArchiveFile, action):
        retrying = Retrying(
            stop=stop_after_attempt(settings.BINANCE_MAX_ATTEMPTS),
            wait=wait_exponential_jitter(
                multiplier=settings.BINANCE_BACKOFF_INITIAL,
                max=settings.BINANCE_BACKOFF_MAX,
                jitter=settings.BINANCE_BACKOFF_INITIAL,
            ),
            retry=retry_if_exception_type(_Retryable),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return action()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise ArchiveUnavailable(
                file, f"gave up after {settings.BINANCE_MAX_ATTEMPTS} attempts; last error: {last}"
            ) from last
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, file: ArchiveFile, url: str) -> requests.Response:
        self.requests_made += 1
        try:
            response = self.session.get(url, timeout=self.timeout, stream=True)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise _Retryable(f"{exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 404:
            response.close()
            raise ArchiveMissing(file, "not published (HTTP 404)")
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            response.close()
            raise ArchiveRejected(file, f"HTTP {response.status_code}")
        return response

    def expected_checksum(self, file: ArchiveFile) -> str:
        def fetch() -> str:
            with self._get(file, file.checksum_url(self.base_url)) as response:
                try:
                    text = response.content.decode("ascii", errors="replace")
                except (requests.RequestException, OSError) as exc:
                    raise _Retryable(f"checksum read failed: {exc}") from exc
            digest = text.split()[0].lower() if text.split() else ""
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ArchiveRejected(file, f"unreadable .CHECKSUM file: {text[:100]!r}")
            return digest

        return self._retrying(file, fetch)

    def download(self, file: ArchiveFile, *, directory: str | None = None) -> Downloaded:
        """The zip on local disk with its checksum verified; raises ArchiveMissing / Rejected / Unavailable."""
        expected = self.expected_checksum(file)

        def fetch() -> Downloaded:
            handle, path = tempfile.mkstemp(prefix="archive-", suffix=".zip", dir=directory)
            digest, size = hashlib.sha256(), 0
            try:
                with os.fdopen(handle, "wb") as target, self._get(file, file.url(self.base_url)) as response:
                    for block in response.iter_content(DOWNLOAD_CHUNK):
                        digest.update(block)
                        target.write(block)
                        size += len(block)
            except (requests.RequestException, OSError) as exc:
                os.unlink(path)
                raise _Retryable(f"download interrupted: {exc.__class__.__name__}: {exc}") from exc
            except BaseException:
                os.unlink(path)
                raise
            self.bytes_downloaded += size
            return Downloaded(file, path, digest.hexdigest(), size)

        downloaded = self._retrying(file, fetch)
        if downloaded.sha256 != expected:
            downloaded.discard()
            raise ArchiveRejected(
                file, f"checksum mismatch: .CHECKSUM says {expected}, the file's SHA-256 is {downloaded.sha256}"
            )
        return downloaded


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError)


@contextmanager
def open_csv(downloaded: Downloaded) -> Iterator:
    """The CSV member of the zip, as a decompressing stream (never the whole member in memory)."""
    try:
        archive = zipfile.ZipFile(downloaded.path)
        names = [name for name in archive.namelist() if name.lower().endswith(".csv")]
        if len(names) != 1:
            raise ArchiveRejected(downloaded.file, f"expected one CSV in the zip, found {len(names)}")
        member = archive.open(names[0])
    except ZIP_ERRORS as exc:
        raise ArchiveRejected(downloaded.file, f"corrupt zip: {exc.__class__.__name__}: {exc}") from exc
    try:
        yield member
    finally:
        member.close()
        archive.close()


def read_chunks(downloaded: Downloaded, *, now: datetime, chunk_rows: int, skip_rows: int = 0) -> Iterator[list[dict]]:
    """Parsed rows in chunks; a corrupt zip or a bad row raises ArchiveRejected naming the file."""
    file = downloaded.file
    with open_csv(downloaded) as member:
        try:
            yield from parse_chunks(
                member,
                archive_type=file.archive_type,
                symbol=file.symbol,
                interval=file.interval,
                now=now,
                chunk_rows=chunk_rows,
                skip_rows=skip_rows,
            )
        except BadRow as exc:
            raise ArchiveRejected(file, f"unparseable row at {exc}") from exc
        except ZIP_ERRORS as exc:
            raise ArchiveRejected(file, f"corrupt zip: {exc.__class__.__name__}: {exc}") from exc


def verify(downloaded: Downloaded) -> Downloaded:
    """Check the whole file once, storing nothing: the zip must be intact (the member's CRC is checked at its end)
    and every line must have the type's exact shape (`csvrows.LINE_PATTERNS`, no looser than the parser). A line
    by regular expression costs a fraction of building its row, so the checked import stays near the store's own
    insert rate. Counts the file's data rows, for progress."""
    file = downloaded.file
    pattern = LINE_PATTERNS[file.archive_type]
    rows = 0
    with open_csv(downloaded) as member:
        try:
            for number, line in enumerate(member, start=1):
                line = line.rstrip(b"\r\n")
                if pattern.fullmatch(line):
                    rows += 1
                elif not (number == 1 and is_header_line(line)) and line:
                    raise ArchiveRejected(file, f"unparseable row at line {number}: {line[:200]!r}")
        except ZIP_ERRORS as exc:
            raise ArchiveRejected(file, f"corrupt zip: {exc.__class__.__name__}: {exc}") from exc
    downloaded.rows = rows
    return downloaded
