"""The REST client against the local Binance test server: weight budget, 429/418, error bodies, retries."""

import time
from datetime import UTC, datetime
from functools import partial

import pytest
import requests

from backfills import client as client_module
from backfills import rows
from backfills.client import (
    BinanceBanned,
    BinanceClient,
    BinanceRejected,
    BinanceUnavailable,
    Stopped,
    WeightGovernor,
)
from petrosa_dm.market.timeutils import to_ms, utcnow
from petrosa_dm.testing.services import free_port

START = datetime(2024, 3, 1, tzinfo=UTC)


def _klines(client: BinanceClient, *, symbol: str = "BTCUSDT", limit: int = 499, start: datetime = START):
    convert = partial(rows.candle_rows, symbol=symbol, interval="1m", now=utcnow())
    return client.klines(
        symbol=symbol, interval="1m", start_ms=to_ms(start), end_ms=to_ms(start) + 10**9, limit=limit, convert=convert
    )


def _client(server, budget: int) -> BinanceClient:
    return BinanceClient(governor=WeightGovernor(budget=budget, window_seconds=server.window_seconds))


def test_client_waits_for_the_window_reset_instead_of_passing_the_budget(binance):
    server = binance(weight_limit=30, window_seconds=3.0)
    client = _client(server, budget=20)
    for _ in range(50):
        assert len(_klines(client, limit=10)) == 10
    assert server.status_counts() == {200: 50}
    assert server.max_window_weight() <= 20
    assert client.governor.waits >= 2
    assert client.requests_made == 50 and client.weight_used == 50


def test_weight_used_by_other_services_on_the_ip_is_respected(binance):
    server = binance(weight_limit=30, window_seconds=3.0)
    client = _client(server, budget=20)
    for _ in range(30):
        _klines(client, limit=10)
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


def test_the_test_server_bans_an_ip_that_ignores_429s(binance):
    server = binance(weight_limit=4, window_seconds=30.0, ban_after_429s=2, ban_seconds=90)
    params = {"symbol": "BTCUSDT", "interval": "1m", "limit": 200}  # weight 2
    statuses = [requests.get(f"{server.url}/fapi/v1/klines", params=params).status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 418, 418]
    response = requests.get(f"{server.url}/fapi/v1/klines", params=params)
    assert 85 <= int(response.headers["Retry-After"]) <= 90


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


def test_requests_that_reach_the_exchange_are_counted_and_refused_connections_are_not(binance, settings):
    settings.BINANCE_MAX_ATTEMPTS = 2
    server = binance()
    server.inject("timeout", times=1)  # reached the exchange, which may have charged it
    client = _client(server, budget=1000)
    _klines(client, limit=10)
    assert (client.requests_made, client.weight_used) == (2, 2)

    settings.BINANCE_FUTURES_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens: nothing is sent
    nowhere = _client(server, budget=1000)
    with pytest.raises(BinanceUnavailable, match="connection failed"):
        _klines(nowhere, limit=10)
    assert (nowhere.requests_made, nowhere.weight_used) == (0, 0)


def test_a_retry_wait_ends_within_a_poll_once_the_answer_is_no_longer_wanted(monkeypatch):
    monkeypatch.setattr(client_module, "WANTED_POLL_SECONDS", 0.01)
    client = BinanceClient(base_url="http://127.0.0.1:9")
    asked = []
    client.wanted = lambda: len(asked) < 3 and not asked.append(1)  # wanted at the first three asks only
    started = time.monotonic()
    with pytest.raises(Stopped):
        client._pause(60)  # a minute's Retry-After, cut short
    assert len(asked) == 3 and time.monotonic() - started < 30


def test_retries_are_bounded(binance, settings):
    settings.BINANCE_MAX_ATTEMPTS = 3
    server = binance()
    server.inject("malformed", times=5)
    with pytest.raises(BinanceUnavailable, match=r"gave up after 3 attempts.*malformed response body"):
        _klines(_client(server, budget=1000))
    assert len(server.requests) == 3
