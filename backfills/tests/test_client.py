"""The REST client against the local Binance test server: weight budget, 429/418, error bodies, retries."""

from datetime import UTC, datetime
from functools import partial

import pytest
import requests

from backfills import rows
from backfills.client import (
    BinanceBanned,
    BinanceClient,
    BinanceRejected,
    BinanceUnavailable,
    WeightGovernor,
)
from petrosa_dm.timeutils import to_ms, utcnow

START = datetime(2024, 3, 1, tzinfo=UTC)


def _klines(client: BinanceClient, *, symbol: str = "BTCUSDT", limit: int = 499, start: datetime = START):
    convert = partial(rows.candle_rows, symbol=symbol, interval="1m", now=utcnow())
    return client.klines(
        symbol=symbol, interval="1m", start_ms=to_ms(start), end_ms=to_ms(start) + 10**9, limit=limit, convert=convert
    )


def _client(server, budget: int) -> BinanceClient:
    return BinanceClient(governor=WeightGovernor(budget=budget, window_seconds=server.window_seconds))


def test_client_waits_for_the_window_reset_instead_of_passing_the_budget(binance):
    server = binance(weight_limit=30, window_seconds=1.0)
    client = _client(server, budget=20)
    for _ in range(25):
        assert len(_klines(client)) == 499
    assert server.status_counts() == {200: 25}
    assert server.max_window_weight() <= 20
    assert client.governor.waits >= 2
    assert client.requests_made == 25 and client.weight_used == 50


def test_weight_used_by_other_services_on_the_ip_is_respected(binance):
    server = binance(weight_limit=30, window_seconds=1.0)
    client = _client(server, budget=20)
    for _ in range(20):
        _klines(client)
        # Another service on the same IP spends weight between our requests; the header tells us.
        requests.get(f"{server.url}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 5})
    assert server.status_counts()[429] == 0


def test_429_waits_for_retry_after_and_then_succeeds(binance):
    server = binance()
    server.inject("429", times=2)
    client = _client(server, budget=1000)
    assert len(_klines(client)) == 499
    assert [r.status for r in server.requests] == [429, 429, 200]
    assert client.rate_limited == 2


def test_418_stops_at_once_with_the_ban_duration(binance):
    server = binance(ban_seconds=120)
    server.inject("418")
    with pytest.raises(BinanceBanned, match=r"418.*for 120 s"):
        _klines(_client(server, budget=1000))
    assert len(server.requests) == 1


def test_ignoring_429s_gets_the_ip_banned(binance):
    """The server's own behaviour: repeated 429s turn into a 418 ban, which the client does not retry."""
    server = binance(weight_limit=4, window_seconds=30.0, ban_after_429s=2)
    client = _client(server, budget=1000)  # a budget above the exchange's limit: a misconfiguration
    _klines(client)
    _klines(client)
    with pytest.raises((BinanceBanned, BinanceUnavailable)):
        client.governor.seconds_to_reset = lambda: 0.0  # don't wait 30 s: the point is the server's reaction
        _klines(client)
    assert server.status_counts()[418] >= 1


def test_binance_error_body_is_raised_with_its_message(binance):
    server = binance()
    with pytest.raises(BinanceRejected, match=r"Invalid symbol\.") as caught:
        _klines(_client(server, budget=1000), symbol="NOPEUSDT")
    assert caught.value.code == -1121
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize("fault", ["500", "503", "timeout", "malformed"])
def test_transient_failures_are_retried(binance, fault):
    server = binance()
    server.inject(fault, times=2)
    assert len(_klines(_client(server, budget=1000))) == 499
    assert len(server.requests) == 3


def test_retries_are_bounded(binance, settings):
    settings.BINANCE_MAX_ATTEMPTS = 3
    server = binance()
    server.inject("malformed", times=5)
    with pytest.raises(BinanceUnavailable, match=r"gave up after 3 attempts.*malformed response body"):
        _klines(_client(server, budget=1000))
    assert len(server.requests) == 3
