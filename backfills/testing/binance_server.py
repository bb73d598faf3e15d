"""A local stand-in for Binance's USD-M REST API: a real HTTP server for tests and benchmarks.

It answers `/fapi/v1/klines`, `/fapi/v1/fundingRate`, `/fapi/v1/aggTrades`, `/fapi/v1/depth` and
`/fapi/v1/exchangeInfo` (its symbols) in Binance's documented formats with data generated deterministically from
the requested range (so two requests for the same range return the same rows), enforces a weight limit per window
like Binance (`X-MBX-USED-WEIGHT-1M` on every response, 429 with `Retry-After` past the limit, 418 after repeated
429s), answers unknown symbols with `{"code": -1121, "msg": "Invalid symbol."}`, and can be told to inject 429,
418, 5xx, slow responses (timeouts) and malformed bodies. It records every request, so tests can prove which pages
were fetched and which limits were used.

Its weight table is deliberately its own (from Binance's documentation), not the backfiller's `weights` module:
a mistake there must show up as a 429 here.

    with BinanceTestServer(window_seconds=2, weight_limit=100) as server:
        server.url  # http://127.0.0.1:<port>
"""

import json
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MINUTE_MS = 60_000
INTERVAL_MS = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
    "3d": 3 * 1440 * MINUTE_MS,
    "1w": 7 * 1440 * MINUTE_MS,
}
WEEK_OFFSET_MS = 4 * 86_400_000  # Binance's weeks open on Monday; 1970-01-05 was one
FUNDING_PERIOD_MS = 8 * 3_600_000
TRADE_EPOCH_MS = 1_546_300_800_000  # 2019-01-01: aggregate trade id 0
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}


def klines_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def depth_weight(limit: int) -> int:
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        self.status, self.body = status, {"code": code, "msg": msg}


@dataclass
class RecordedRequest:
    path: str
    params: dict[str, str]
    status: int
    weight: int
    at: float
    window: int


@dataclass
class Fault:
    kind: str  # "429", "418", "500", "502", "503", "timeout", "malformed"
    path: str | None = None


@dataclass
class _State:
    used: Counter = field(default_factory=Counter)  # weight per window number
    consecutive_429: int = 0
    banned_until: float = 0.0


def _decimal(value: float, places: int) -> str:
    return f"{value:.{places}f}"


def _price(symbol: str, moment_ms: int) -> float:
    """A deterministic, wavy price path per symbol."""
    base = 100.0 + (sum(map(ord, symbol)) % 50) * 10
    return base + 5 * math.sin(moment_ms / 3_600_000) + (moment_ms // MINUTE_MS % 97) / 100


class BinanceTestServer:
    def __init__(
        self,
        *,
        symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SUSHIUSDT"),
        weight_limit: int = 2400,
        window_seconds: float = 60.0,
        ban_after_429s: int = 3,
        ban_seconds: int = 120,
        holes: tuple[tuple[datetime, datetime], ...] = (),
        latency: float = 0.0,
        slow_seconds: float = 3.0,
        trade_period_ms: int = 500,
        listed_since: datetime = datetime(2019, 9, 1, tzinfo=UTC),
        port: int = 0,
        depth_snapshots: dict[str, list[dict]] | None = None,
        recorded_agg_trades: dict[str, list[dict]] | None = None,
    ) -> None:
        self.port = port
        self.symbols = set(symbols) | set(recorded_agg_trades or {}) | set(depth_snapshots or {})
        self.weight_limit = weight_limit
        self.window_seconds = window_seconds
        self.ban_after_429s = ban_after_429s
        self.ban_seconds = ban_seconds
        self.holes = [(int(a.timestamp() * 1000), int(b.timestamp() * 1000)) for a, b in holes]
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.trade_period_ms = trade_period_ms
        self.listed_since_ms = int(listed_since.timestamp() * 1000)
        # Recorded `/fapi/v1/depth` bodies per symbol, served in order (the last one again once the rest are used),
        # so a replayed capture can be re-anchored by the exchange's own books.
        self.depth_snapshots = {symbol: deque(bodies) for symbol, bodies in (depth_snapshots or {}).items()}
        # Real aggregate trades (REST shape: a, p, q, f, l, T, m) served instead of generated ones for their symbol.
        self.recorded_agg_trades = {
            symbol: sorted(trades, key=lambda trade: trade["a"])
            for symbol, trades in (recorded_agg_trades or {}).items()
        }
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._state = _State()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> "BinanceTestServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="binance-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "BinanceTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- controls and observations ---------------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, path: str | None = None) -> None:
        """Answer the next `times` requests (to `path`, or any) with the fault instead of data."""
        with self._lock:
            self._faults.extend(Fault(kind, path) for _ in range(times))

    def requests_to(self, path: str, status: int | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (status is None or r.status == status)]

    def status_counts(self) -> Counter:
        with self._lock:
            return Counter(r.status for r in self.requests)

    def max_window_weight(self) -> int:
        with self._lock:
            return max(self._state.used.values(), default=0)

    # --- request handling ------------------------------------------------------------------------------------

    def _window(self, now: float) -> int:
        return math.floor(now / self.window_seconds)

    def _take_fault(self, path: str) -> Fault | None:
        for fault in list(self._faults):
            if fault.path in (None, path):
                self._faults.remove(fault)
                return fault
        return None

    def handle(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
        """(status, headers, body, delay) for one request."""
        now = time.time()
        window = self._window(now)
        weight = self._weight(path, params)
        with self._lock:
            status, extra, body, delay = self._admit(path, now, window, weight)
            if status == 200 and not body:
                try:
                    body = json.dumps(self._answer(path, params, now)).encode()
                except ApiError as exc:
                    status, body = exc.status, json.dumps(exc.body).encode()
            used = self._state.used[window]
            self.requests.append(RecordedRequest(path, params, status, weight, now, window))
        headers = {"Content-Type": "application/json", "X-MBX-USED-WEIGHT-1M": str(used), **extra}
        return status, headers, body, delay

    def _admit(self, path: str, now: float, window: int, weight: int) -> tuple[int, dict, bytes, float]:
        state = self._state
        if now < state.banned_until:
            return self._ban(now)
        fault = self._take_fault(path)
        if fault and fault.kind == "418":
            state.banned_until = now + self.ban_seconds
            return self._ban(now)
        over = state.used[window] + weight > self.weight_limit
        if (fault and fault.kind == "429") or over:
            state.consecutive_429 += 1
            if state.consecutive_429 > self.ban_after_429s:
                state.banned_until = now + self.ban_seconds
                return self._ban(now)
            retry_after = max(1, math.ceil((window + 1) * self.window_seconds - now))
            body = {"code": -1003, "msg": "Too many requests; current limit of IP is exceeded, please use websocket."}
            return 429, {"Retry-After": str(retry_after)}, json.dumps(body).encode(), 0.0
        state.consecutive_429 = 0
        state.used[window] += weight
        if fault and fault.kind in ("500", "502", "503"):
            body = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}
            return int(fault.kind), {}, json.dumps(body).encode(), 0.0
        if fault and fault.kind == "malformed":
            return 200, {}, b'[[1499040000000, "0.0163", "0.8000"', 0.0
        delay = self.slow_seconds if fault and fault.kind == "timeout" else self.latency
        return 200, {}, b"", delay

    def _ban(self, now: float) -> tuple[int, dict, bytes, float]:
        retry_after = math.ceil(self._state.banned_until - now)
        body = {"code": -1003, "msg": f"Way too many requests; IP banned until {int(self._state.banned_until * 1000)}."}
        return 418, {"Retry-After": str(retry_after)}, json.dumps(body).encode(), 0.0

    def _weight(self, path: str, params: dict[str, str]) -> int:
        limit = _int(params.get("limit"), 0)
        if path == "/fapi/v1/klines":
            return klines_weight(limit or 500)
        if path == "/fapi/v1/aggTrades":
            return 20
        if path == "/fapi/v1/depth":
            return depth_weight(limit or 500)
        return 1

    def _answer(self, path: str, params: dict[str, str], now: float) -> object:
        if path == "/fapi/v1/exchangeInfo":
            return self._exchange_info(int(now * 1000))
        symbol = params.get("symbol", "")
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.symbols:
            raise ApiError(400, **INVALID_SYMBOL)
        now_ms = int(now * 1000)
        answer = {
            "/fapi/v1/klines": self._klines,
            "/fapi/v1/fundingRate": self._funding,
            "/fapi/v1/aggTrades": self._agg_trades,
            "/fapi/v1/depth": self._depth,
        }.get(path)
        if answer is None:
            raise ApiError(404, -1000, f"Unknown path {path}")
        return answer(symbol, params, now_ms)

    def _exchange_info(self, now_ms: int) -> dict:
        """The documented shape, reduced to what readers use: the symbols with their status and contract."""
        symbols = [
            {"symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "status": "TRADING"}
            for symbol in sorted(self.symbols)
        ]
        return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": [], "symbols": symbols}

    # --- data ------------------------------------------------------------------------------------------------

    def _in_hole(self, moment_ms: int) -> int | None:
        """The end of the hole `moment_ms` falls in, or None."""
        for start, end in self.holes:
            if start <= moment_ms <= end:
                return end
        return None

    def _klines(self, symbol: str, params: dict[str, str], now_ms: int) -> list:
        interval = params.get("interval", "")
        if interval not in INTERVAL_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        limit = _limit(params, default=500, maximum=1500)
        step = INTERVAL_MS[interval]
        offset = WEEK_OFFSET_MS if interval == "1w" else 0
        end_ms = min(_int(params.get("endTime"), now_ms), now_ms)
        if "startTime" in params:
            start_ms = max(_int(params["startTime"], 0), self.listed_since_ms)
            open_ms = -(-(start_ms - offset) // step) * step + offset
        else:
            open_ms = (end_ms - offset) // step * step + offset - (limit - 1) * step
        klines = []
        while len(klines) < limit and open_ms <= end_ms:
            hole_end = self._in_hole(open_ms)
            if hole_end is not None:
                open_ms = -(-(hole_end + 1 - offset) // step) * step + offset
                continue
            klines.append(self._kline(symbol, open_ms, step, now_ms))
            open_ms += step
        return klines

    def _kline(self, symbol: str, open_ms: int, step: int, now_ms: int) -> list:
        close_ms = open_ms + step - 1
        last_ms = min(close_ms, now_ms)
        open_price, close_price = _price(symbol, open_ms), _price(symbol, last_ms)
        volume = 10 + (open_ms // MINUTE_MS % 13)
        trades = 50 + (open_ms // MINUTE_MS % 17)
        return [
            open_ms,
            _decimal(open_price, 2),
            _decimal(max(open_price, close_price) + 0.5, 2),
            _decimal(min(open_price, close_price) - 0.5, 2),
            _decimal(close_price, 2),
            _decimal(volume, 3),
            close_ms,
            _decimal(volume * open_price, 5),
            trades,
            _decimal(volume / 2, 3),
            _decimal(volume * open_price / 2, 5),
            "0",
        ]

    def _funding(self, symbol: str, params: dict[str, str], now_ms: int) -> list:
        limit = _limit(params, default=100, maximum=1000)
        end_ms = min(_int(params.get("endTime"), now_ms), now_ms)
        if "startTime" in params:
            slot = -(-max(_int(params["startTime"], 0), self.listed_since_ms) // FUNDING_PERIOD_MS)
        else:
            slot = end_ms // FUNDING_PERIOD_MS - limit + 1
        rows = []
        while len(rows) < limit:
            # Binance stamps funding a few milliseconds after the hour; the jitter is deterministic here.
            funding_ms = slot * FUNDING_PERIOD_MS + slot % 20
            if funding_ms > end_ms:
                break
            slot += 1
            if funding_ms < self.listed_since_ms or self._in_hole(funding_ms) is not None:
                continue
            rate = ((slot * 7919) % 200 - 100) / 1_000_000
            rows.append(
                {
                    "symbol": symbol,
                    "fundingRate": f"{rate:.8f}",
                    "fundingTime": funding_ms,
                    "markPrice": _decimal(_price(symbol, funding_ms), 8),
                }
            )
        return rows

    def _trade(self, trade_id: int) -> dict:
        trade_ms = TRADE_EPOCH_MS + trade_id * self.trade_period_ms + trade_id % 7
        first = trade_id * 3
        return {
            "a": trade_id,
            "p": _decimal(_price("trade", trade_ms), 2),
            "q": _decimal(0.001 * (1 + trade_id % 50), 3),
            "f": first,
            "l": first + trade_id % 3,
            "T": trade_ms,
            "m": trade_id % 2 == 0,
        }

    def _recorded_agg_trades(self, trades: list[dict], params: dict[str, str], limit: int) -> list:
        if "fromId" in params:
            first_id = _int(params["fromId"], 0)
            return [trade for trade in trades if trade["a"] >= first_id][:limit]
        start_ms, end_ms = _int(params.get("startTime"), 0), _int(params.get("endTime"), 2**62)
        if "startTime" in params and "endTime" in params and end_ms - start_ms >= 3_600_000:
            raise ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
        return [trade for trade in trades if start_ms <= trade["T"] <= end_ms][:limit]

    def _agg_trades(self, symbol: str, params: dict[str, str], now_ms: int) -> list:
        limit = _limit(params, default=500, maximum=1000)
        if symbol in self.recorded_agg_trades:
            return self._recorded_agg_trades(self.recorded_agg_trades[symbol], params, limit)
        last_id = (now_ms - TRADE_EPOCH_MS) // self.trade_period_ms
        if "fromId" in params:
            first_id = _int(params["fromId"], 0)
            return [self._trade(i) for i in range(first_id, min(first_id + limit, last_id + 1))]
        if "startTime" in params and "endTime" in params:
            start_ms, end_ms = _int(params["startTime"], 0), _int(params["endTime"], 0)
            if end_ms - start_ms >= 3_600_000:
                raise ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
            first_id = max(0, -(-(start_ms - TRADE_EPOCH_MS - 6) // self.trade_period_ms))
            trades = []
            trade_id = first_id
            while len(trades) < limit and trade_id <= last_id:
                trade = self._trade(trade_id)
                if trade["T"] > end_ms:
                    break
                if trade["T"] >= start_ms:
                    trades.append(trade)
                trade_id += 1
            return trades
        return [self._trade(i) for i in range(max(0, last_id - limit + 1), last_id + 1)]

    def _depth(self, symbol: str, params: dict[str, str], now_ms: int) -> dict:
        limit = _int(params.get("limit"), 500)
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        recorded = self.depth_snapshots.get(symbol)
        if recorded:
            body = recorded.popleft() if len(recorded) > 1 else recorded[0]
            return {**body, "bids": body["bids"][:limit], "asks": body["asks"][:limit]}
        mid = _price(symbol, now_ms)
        return {
            "lastUpdateId": now_ms * 10,
            "E": now_ms,
            "T": now_ms - 3,
            "bids": [[_decimal(mid - 0.1 * (i + 1), 2), _decimal(1 + i % 5, 3)] for i in range(limit)],
            "asks": [[_decimal(mid + 0.1 * (i + 1), 2), _decimal(1 + i % 7, 3)] for i in range(limit)],
        }


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError as exc:
        raise ApiError(400, -1100, f"Illegal characters found in a parameter: {value!r}") from exc


def _limit(params: dict[str, str], *, default: int, maximum: int) -> int:
    limit = _int(params.get("limit"), default)
    if not 1 <= limit <= maximum:
        raise ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _handler_for(server: BinanceTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            status, headers, body, delay = server.handle(parts.path, params)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (an injected timeout)

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


def main() -> None:
    """`python -m backfills.testing.binance_server --port 8900`: the stand-in exchange on loopback, for trying
    backfills without internet access (point BINANCE_FUTURES_BASE_URL at it). Its rows are generated, not real,
    apart from the depth snapshots of `--depth-capture` (a recorded capture's own REST bodies)."""
    import argparse
    import time
    from pathlib import Path

    from ingestion.replay import Capture

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument(
        "--depth-capture",
        type=Path,
        action="append",
        default=[],
        help="a recorded capture whose REST depth snapshots /fapi/v1/depth serves for their symbol (repeatable)",
    )
    args = parser.parse_args()
    snapshots: dict[str, list[dict]] = {}
    for path in args.depth_capture:
        for symbol, bodies in Capture(path).depth_snapshots().items():
            snapshots.setdefault(symbol, []).extend(bodies)
            print(f"{path.name}: {len(bodies)} recorded depth snapshots of {symbol}", flush=True)
    with BinanceTestServer(port=args.port, depth_snapshots=snapshots) as server:
        print(f"Binance test server on {server.url} (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
