"""The earlier version's published client, `petrosa-data-manager-client` (PyPI), unmodified, against a live web
process (gunicorn on a free loopback port) reading recorded data loaded through the real consumer."""

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from client import DataManagerClient
from client.models import APIResponse, CandleData, DepthData, FundingData, TradeData

from petrosa_dm.testing.services import free_port

from . import recorded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shared_data]

PROJECT = Path(__file__).resolve().parents[2]
CANDLES = slice(0, 400)


@pytest.fixture
def web_process(subprocess_database, mongo_db, redis_url, settings, tmp_path):
    port = free_port()
    environment = os.environ | {
        "DATABASE_URL": subprocess_database,
        "MONGODB_URL": settings.MONGODB_URL,
        "CELERY_BROKER_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    command = [sys.executable, "-m", "gunicorn", "petrosa_dm.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    server = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health/liveness", timeout=5)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {(tmp_path / 'gunicorn.log').read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def stored(load):
    candles = recorded.klines(recorded.LINK_1M, symbol="LINKUSDT", interval="1m", rows=CANDLES)
    trades = recorded.trades(recorded.BTC_CAPTURE, 150)
    book = recorded.message("depthUpdate_partial.json")
    marks = [recorded.message("markPriceUpdate.json"), recorded.message("markPriceUpdate_arr.json")]
    load(candles, trades, [book], marks)
    return {
        "candles": recorded.kline_rows(recorded.LINK_1M, CANDLES),
        "trades": sorted((json.loads(m)["data"] for m in trades), key=lambda trade: (trade["T"], trade["t"])),
        "book": json.loads(book)["data"],
        "funding": json.loads(marks[1])["data"][0],
    }


def utc_ms(ms) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def test_the_published_client_reads_every_endpoint_into_its_models(web_process, stored):
    async def calls() -> dict:
        async with DataManagerClient(base_url=web_process, timeout=30) as dm:
            return {
                "candles": await dm.get_candles("LINKUSDT", "1m"),
                "range": await dm.get_candles(
                    "LINKUSDT", "1m", start=datetime(2023, 2, 1, 2, 0), end=datetime(2023, 2, 1, 2, 30, tzinfo=UTC)
                ),
                "trades": await dm.get_trades("BTCUSDT"),
                "depth": await dm.get_depth("ETHUSDT"),
                "funding": await dm.get_funding("BTCUSDT"),
                "health": await dm.health(),
            }

    answers = asyncio.run(calls())

    # get_candles with its defaults: the newest 100 candles, oldest first.
    page = APIResponse(**answers["candles"])
    candles = [CandleData(**row) for row in page.data]
    expected = stored["candles"][-100:]
    assert [candle.timestamp for candle in candles] == [utc_ms(row["open_time"]) for row in expected]
    assert [candle.close for candle in candles] == [Decimal(row["close"]) for row in expected]
    assert [candle.trades_count for candle in candles] == [int(row["count"]) for row in expected]
    assert [candle.quote_volume for candle in candles] == [Decimal(row["quote_volume"]) for row in expected]
    assert (page.pagination.total, page.pagination.page, page.pagination.pages) == (400, 1, 4)
    # get_candles with a range (a naive start, an aware end): [02:00, 02:30).
    ranged = [CandleData(**row) for row in APIResponse(**answers["range"]).data]
    assert [candle.timestamp for candle in ranged] == [utc_ms(row["open_time"]) for row in stored["candles"][120:150]]
    assert ranged[0].open == Decimal(stored["candles"][120]["open"])
    # get_trades: the newest 100 trades, with their side.
    trades = [TradeData(**row) for row in APIResponse(**answers["trades"]).data]
    newest = stored["trades"][-100:]
    assert [trade.trade_id for trade in trades] == [trade["t"] for trade in newest]
    assert [trade.side for trade in trades] == ["sell" if trade["m"] else "buy" for trade in newest]
    assert [trade.price for trade in trades] == [Decimal(trade["p"]) for trade in newest]
    # get_depth: the order book.
    book = DepthData(**APIResponse(**answers["depth"]).data)
    assert (book.bids, book.asks, book.last_update_id) == (
        stored["book"]["b"],
        stored["book"]["a"],
        stored["book"]["u"],
    )
    # get_funding.
    [funding] = [FundingData(**row) for row in APIResponse(**answers["funding"]).data]
    assert funding.timestamp == utc_ms(stored["funding"]["T"])
    assert (funding.funding_rate, funding.mark_price) == (
        Decimal(stored["funding"]["r"]),
        Decimal(stored["funding"]["p"]),
    )
    # health: the readiness answer.
    assert (answers["health"]["status"], answers["health"]["ready"]) == ("healthy", True)


def test_the_published_client_gets_an_empty_list_for_a_pair_without_rows(web_process, mongo_db):
    async def calls():
        async with DataManagerClient(base_url=web_process, timeout=30) as dm:
            return await dm.get_candles("DOGEUSDT", "1h"), await dm.get_trades("DOGEUSDT")

    for answer in asyncio.run(calls()):
        page = APIResponse(**answer)
        assert page.data == []
        assert page.pagination.total == 0
        assert "DOGEUSDT" in page.metadata["message"]
