"""Replaying recorded websocket streams onto NATS (core publish, as the ecosystem's publishers do).

A capture holds one JSON message per line, optionally after a receive time: cryptofeed's `<unix time>: <json>`
(after a first line holding the subscribe URL), hftbacktest's `<nanoseconds> <json>`, or bare JSON lines; gzip or
plain text. Lines without JSON (the URL line) are skipped and counted.

hftbacktest captures also hold the REST `/fapi/v1/depth` bodies the recorder fetched to anchor its book. They are
not socket messages (the socket client never publishes them), so a replay leaves them out and counts them; the
stand-in exchange serves them as its depth snapshots (`binance_server --depth-capture`, `depth_snapshots()`).
"""

import asyncio
import gzip
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import orjson
from nats.aio.client import Client
from tqdm import tqdm

from petrosa_dm.market.timeutils import utcnow

GZIP_MAGIC = b"\x1f\x8b"
ENVELOPE_SOURCE = "binance-websocket"
ENVELOPE_VERSION = "1.0"
# At a chosen rate, messages go out in small bursts every few milliseconds rather than one sleep per message.
PACING_STEP = 0.005


@dataclass
class Capture:
    path: Path
    skipped: int = 0  # lines without a message
    snapshots: int = 0  # recorded REST depth bodies left out

    def messages(self) -> Iterator[bytes]:
        """The socket messages, in the recorded order."""
        for payload in self._payloads():
            if _rest_depth_body(payload) is None:
                yield payload
            else:
                self.snapshots += 1

    def depth_snapshots(self) -> dict[str, list[dict]]:
        """The recorded REST depth bodies per symbol, in recorded order. A body names no symbol: it belongs to the
        depth stream it was recorded among (the symbol of the depth message before it, else the next one)."""
        found: dict[str, list[dict]] = {}
        waiting: list[dict] = []  # bodies recorded before any depth message
        last_depth = None  # parsed for its symbol only when a body needs it
        for payload in self._payloads():
            body = _rest_depth_body(payload)
            if body is not None:
                symbol = _depth_symbol(last_depth) if last_depth else None
                (found.setdefault(symbol, []) if symbol else waiting).append(body)
            elif b"depthUpdate" in payload:
                last_depth = payload
                if waiting and (symbol := _depth_symbol(payload)):
                    found.setdefault(symbol, []).extend(waiting)
                    waiting = []
        return found

    def _payloads(self) -> Iterator[bytes]:
        with self._open() as lines:
            for line in lines:
                payload = _payload(line)
                if payload is None:
                    self.skipped += 1
                else:
                    yield payload

    def _open(self):
        with self.path.open("rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        return gzip.open(self.path, "rb") if compressed else self.path.open("rb")


def _payload(line: bytes) -> bytes | None:
    """The JSON part of a capture line, or None for a line without one."""
    line = line.strip()
    starts = [index for index in (line.find(b"{"), line.find(b"[")) if index >= 0]
    if not starts:
        return None
    start = min(starts)
    prefix = line[:start].strip().rstrip(b":")
    if prefix and not prefix.replace(b".", b"", 1).isdigit():
        return None  # not a receive time: not a message line
    return line[start:]


def _rest_depth_body(payload: bytes) -> dict | None:
    """The REST depth body a line holds (`lastUpdateId`, `bids`, `asks`, no event type), else None. Only lines
    naming `lastUpdateId` are parsed: a replay at full speed does not parse the others."""
    if b'"lastUpdateId"' not in payload:
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and "e" not in body and {"lastUpdateId", "bids", "asks"} <= body.keys():
        return body
    return None


def _depth_symbol(payload: bytes) -> str | None:
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    data = message.get("data", message) if isinstance(message, dict) else None
    symbol = data.get("s") if isinstance(data, dict) else None
    return symbol if isinstance(symbol, str) and symbol else None


def wrap_in_envelope(payload: bytes) -> bytes:
    """The socket client's envelope around one recorded message (its stream label kept when it has one)."""
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload  # replay bad lines as they are: they are what the consumer must survive
    if isinstance(message, dict) and "data" in message:
        stream, data = message.get("stream"), message["data"]
    else:
        stream, data = None, message
    if stream is None and isinstance(data, dict):
        stream = f"{str(data.get('s', '')).lower()}@{data.get('e', '')}"
    envelope = {
        "stream": stream,
        "data": data,
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "message_id": str(uuid.uuid4()),
        "source": ENVELOPE_SOURCE,
        "version": ENVELOPE_VERSION,
    }
    return orjson.dumps(envelope)


@dataclass
class ReplayResult:
    published: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0


async def replay(
    nc: Client,
    *,
    subject: str,
    messages: Iterable[bytes],
    rate: float | None = None,
    envelope: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> ReplayResult:
    """Publish messages at `rate` per second (None: as fast as possible); returns what was published."""
    started = perf_counter()
    published = 0
    # disable=None: tqdm shows the bar only on a terminal.
    with tqdm(total=limit, unit="msg", disable=None if progress else True, mininterval=0.5) as bar:
        for payload in messages:
            if limit is not None and published >= limit:
                break
            if rate:
                await _pace(started, published, rate)
            await nc.publish(subject, wrap_in_envelope(payload) if envelope else payload)
            published += 1
            bar.update()
        await nc.flush()
    return ReplayResult(published=published, seconds=perf_counter() - started)


async def _pace(started: float, published: int, rate: float) -> None:
    ahead = published / rate - (perf_counter() - started)
    if ahead > PACING_STEP:
        await asyncio.sleep(ahead)
