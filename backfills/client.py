"""A Binance USD-M futures REST client for backfills: weight-aware, with bounded retries.

Every response's `X-MBX-USED-WEIGHT-1M` tells us how much of the IP's minute is used (other services share the
IP), and no request is sent that would take us past `BINANCE_WEIGHT_BUDGET`: we sleep until the window resets
instead. A 429 waits for `Retry-After` (or the reset) and retries; 5xx, timeouts and malformed bodies retry with
exponential backoff and jitter, a bounded number of times. A 418 (the IP is banned) and Binance's error bodies
(`{"code": -1121, "msg": "Invalid symbol."}`) are final: retrying would not help and, for 418, would lengthen the ban.
"""

import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import DecimalException
from typing import Any, TypeVar

import requests
import urllib3
from django.conf import settings
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from petrosa_dm.market.timeutils import utcnow

from . import metrics, weights

logger = logging.getLogger(__name__)
T = TypeVar("T")
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
WANTED_POLL_SECONDS = 1.0


class BinanceError(Exception):
    """A request that cannot succeed; a job fails with this message."""


class BinanceRejected(BinanceError):
    """Binance answered with an error body, e.g. `{"code": -1121, "msg": "Invalid symbol."}`."""

    def __init__(self, code: int | None, msg: str, status: int) -> None:
        self.code, self.msg, self.status = code, msg, status
        super().__init__(f"Binance rejected the request (HTTP {status}, code {code}): {msg}")


class BinanceBanned(BinanceError):
    """HTTP 418: the IP is banned for `retry_after` seconds, for having ignored 429s."""

    def __init__(self, retry_after: int | None) -> None:
        self.retry_after = retry_after
        if retry_after is None:
            super().__init__("Binance banned this IP (HTTP 418); no Retry-After was given")
        else:
            until = (utcnow() + timedelta(seconds=retry_after)).isoformat(timespec="seconds")
            super().__init__(f"Binance banned this IP (HTTP 418) for {retry_after} s, until {until}")


class BinanceUnavailable(BinanceError):
    """Retries were exhausted on 429s, 5xx, timeouts or malformed bodies."""


class Retryable(Exception):
    """A failure worth another attempt after a pause."""


class Stopped(Exception):
    """The answer is no longer wanted (`BinanceClient.wanted` said so between attempts): a cancelled job stops
    retrying at once instead of holding its worker until the retries run out."""


class RateLimited(Retryable):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"HTTP 429 Too Many Requests (Retry-After {retry_after:g} s)")


class MalformedResponse(Retryable):
    """A body that is not the documented shape (truncated JSON, wrong types); often a proxy hiccup."""


class WeightGovernor:
    """Keeps the weight used in Binance's current window under the budget, sleeping until the reset if needed.

    Binance counts weight per IP in fixed windows (the calendar minute). We track our own charges and replace them
    with the server's figure from every response, which also includes what other services on the IP used.
    """

    # Sleep a little past the boundary so the server has certainly rolled its window over.
    RESET_MARGIN_SECONDS = 0.05

    def __init__(self, *, budget: int, window_seconds: float, clock=time.time, sleep=time.sleep) -> None:
        self.budget = budget
        self.window_seconds = window_seconds
        self._clock, self._sleep = clock, sleep
        self._window = self._window_at(clock())
        self.used = 0
        self.waits = 0

    def _window_at(self, moment: float) -> int:
        return math.floor(moment / self.window_seconds)

    def seconds_to_reset(self) -> float:
        now = self._clock()
        return (self._window_at(now) + 1) * self.window_seconds - now + self.RESET_MARGIN_SECONDS

    def _roll(self) -> None:
        window = self._window_at(self._clock())
        if window != self._window:
            self._window, self.used = window, 0

    def acquire(self, weight: int) -> None:
        """Block until `weight` fits in the budget of the current window, then charge it."""
        self._roll()
        if self.used + weight > self.budget:
            pause = self.seconds_to_reset()
            logger.info("weight budget reached, waiting for the reset", extra={"used": self.used, "pause": pause})
            self.waits += 1
            self._sleep(pause)
            self._roll()
            self.used = 0 if self.used + weight > self.budget else self.used
        self.used += weight

    def observe(self, used: int) -> None:
        """The server's count for the current window (it includes other services' requests)."""
        self._roll()
        self.used = used
        metrics.BINANCE_WEIGHT_USED.set(used)


def _never_connected(error: requests.ConnectionError) -> bool:
    """Whether the request failed before a connection existed (name resolution, refused): nothing was sent."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _retry_after(response: requests.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.strip().isdigit() else None


def _error_body(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or response.reason or "").strip()[:300]
    if isinstance(body, dict) and "msg" in body:
        return body.get("code"), str(body["msg"])
    return None, str(body)[:300]


class BinanceClient:
    """One client per job run; `requests_made` and `weight_used` count what reached the exchange (a connection
    that was never made, e.g. a name that does not resolve, charged nothing and is not counted)."""

    def __init__(self, *, base_url: str | None = None, governor: WeightGovernor | None = None) -> None:
        self.base_url = (base_url or settings.BINANCE_FUTURES_BASE_URL).rstrip("/")
        self.governor = governor or WeightGovernor(
            budget=settings.BINANCE_WEIGHT_BUDGET, window_seconds=settings.BINANCE_WEIGHT_WINDOW_SECONDS
        )
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "petrosa-data-manager backfiller"
        self.timeout = (settings.BINANCE_CONNECT_TIMEOUT, settings.BINANCE_READ_TIMEOUT)
        self.requests_made = 0
        self.weight_used = 0
        self.rate_limited = 0
        # Asked before every retry and every WANTED_POLL_SECONDS of the wait before it; False raises Stopped.
        self.wanted: Callable[[], bool] | None = None

    def close(self) -> None:
        self.session.close()

    # --- endpoints -------------------------------------------------------------------------------------------

    def klines(
        self, *, symbol: str, interval: str, start_ms: int, end_ms: int, limit: int, convert: Callable[[Any], T]
    ) -> T:
        params = {"symbol": symbol, "interval": interval, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        return self.get(weights.KLINES, params, limit=limit, convert=convert)

    def funding_rates(self, *, symbol: str, start_ms: int, end_ms: int, limit: int, convert: Callable[[Any], T]) -> T:
        params = {"symbol": symbol, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        return self.get(weights.FUNDING_RATE, params, limit=limit, convert=convert)

    def agg_trades(
        self,
        *,
        symbol: str,
        limit: int,
        convert: Callable[[Any], T],
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
    ) -> T:
        """By time window (Binance allows at most one hour) or from an aggregate trade id onwards."""
        params: dict[str, Any] = {"symbol": symbol, "limit": limit}
        if from_id is not None:
            params["fromId"] = from_id
        else:
            params.update(startTime=start_ms, endTime=end_ms)
        return self.get(weights.AGG_TRADES, params, limit=limit, convert=convert)

    def depth(self, *, symbol: str, limit: int, convert: Callable[[Any], T]) -> T:
        return self.get(weights.DEPTH, {"symbol": symbol, "limit": limit}, limit=limit, convert=convert)

    def exchange_info(self, *, convert: Callable[[Any], T]) -> T:
        """The exchange's trading rules and symbols (petrosa_dm.market.symbols)."""
        return self.get(weights.EXCHANGE_INFO, {}, limit=1, convert=convert)

    # --- transport -------------------------------------------------------------------------------------------

    def get(self, endpoint: str, params: dict, *, limit: int, convert: Callable[[Any], T]) -> T:
        """GET `endpoint` and convert its JSON body, retrying what is worth retrying."""
        weight = weights.request_weight(endpoint, limit)
        retrying = Retrying(
            stop=stop_after_attempt(settings.BINANCE_MAX_ATTEMPTS),
            wait=self._wait,
            retry=retry_if_exception_type(Retryable),
            reraise=False,
            sleep=self._pause,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(endpoint, params, weight, convert)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise BinanceUnavailable(
                f"{endpoint}: gave up after {settings.BINANCE_MAX_ATTEMPTS} attempts; last error: {last}"
            ) from last
        raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises

    def _pause(self, seconds: float) -> None:
        """The wait before a retry (backoff, or a 429's Retry-After), ended early when the answer is unwanted."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._check_wanted()
            time.sleep(min(left, WANTED_POLL_SECONDS))
        self._check_wanted()

    def _check_wanted(self) -> None:
        if self.wanted is not None and not self.wanted():
            raise Stopped("stopped between retries: the answer is no longer wanted")

    def _wait(self, state) -> float:
        error = state.outcome.exception()
        if isinstance(error, RateLimited):
            return max(error.retry_after, self.governor.seconds_to_reset())
        initial = settings.BINANCE_BACKOFF_INITIAL
        return wait_exponential_jitter(multiplier=initial, max=settings.BINANCE_BACKOFF_MAX, jitter=initial)(state)

    def _send(self, endpoint: str, params: dict, weight: int, convert: Callable[[Any], T]) -> T:
        # The budget is taken before sending: a request that times out may still have been charged.
        self.governor.acquire(weight)
        try:
            response = self.session.get(self.base_url + endpoint, params=params, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise Retryable(f"{endpoint}: could not connect in time ({exc})") from exc
        except requests.Timeout as exc:
            self._count(endpoint, weight)
            raise Retryable(f"{endpoint}: timed out ({exc.__class__.__name__})") from exc
        except requests.ConnectionError as exc:
            if not _never_connected(exc):
                self._count(endpoint, weight)
            raise Retryable(f"{endpoint}: connection failed ({exc})") from exc
        self._count(endpoint, weight)
        used = response.headers.get(USED_WEIGHT_HEADER, "")
        if used.strip().isdigit():
            self.governor.observe(int(used))
        self._raise_for_status(endpoint, response)
        try:
            return convert(response.json())
        except (ValueError, KeyError, TypeError, IndexError, DecimalException) as exc:
            raise MalformedResponse(f"{endpoint}: malformed response body ({exc})") from exc

    def _count(self, endpoint: str, weight: int) -> None:
        self.requests_made += 1
        self.weight_used += weight
        metrics.BINANCE_REQUESTS.labels(endpoint=endpoint).inc()

    def _raise_for_status(self, endpoint: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 418:
            raise BinanceBanned(_retry_after(response))
        if status == 429:
            self.rate_limited += 1
            retry_after = _retry_after(response)
            raise RateLimited(float(retry_after) if retry_after is not None else self.governor.seconds_to_reset())
        if status >= 500:
            raise Retryable(f"{endpoint}: HTTP {status}")
        code, msg = _error_body(response)
        raise BinanceRejected(code, msg, status)
