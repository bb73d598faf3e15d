"""CONTRACT.md, "Market data": each test sends a caller's exact request against recorded data loaded through the
real consumer and reads every field the caller reads, parsed the way the caller parses it."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from . import recorded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shared_data]

PAGINATION_KEYS = {"total", "limit", "offset", "page", "pages", "has_next", "has_previous"}
CANDLE_COUNT = 400


def utc_ms(ms: str | int) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def assert_pagination(pagination: dict, *, total: int, limit: int, offset: int) -> None:
    assert set(pagination) >= PAGINATION_KEYS
    assert (pagination["total"], pagination["limit"], pagination["offset"]) == (total, limit, offset)
    assert pagination["page"] == offset // limit + 1
    assert pagination["pages"] == -(-total // limit)
    assert pagination["has_next"] is (offset + limit < total)
    assert pagination["has_previous"] is (offset > 0)


@pytest.fixture
def link_candles(load):
    rows = recorded.kline_rows(recorded.LINK_1M, slice(0, CANDLE_COUNT))
    load(recorded.klines(recorded.LINK_1M, symbol="LINKUSDT", interval="1m", rows=slice(0, CANDLE_COUNT)))
    return rows


def assert_candle(row: dict, expected: dict) -> None:
    """Every field the TA bot and the client read: float() prices, an int trade count, a decimal quote volume."""
    assert pd.to_datetime(row["timestamp"], utc=True) == pd.Timestamp(utc_ms(expected["open_time"]))
    assert datetime.fromisoformat(row["timestamp"]) == utc_ms(expected["open_time"])
    for field in ("open", "high", "low", "close", "volume"):
        assert isinstance(row[field], str)
        assert float(row[field]) == float(expected[field])
    assert Decimal(row["quote_volume"]) == Decimal(expected["quote_volume"])
    assert isinstance(row["trades_count"], int) and row["trades_count"] == int(expected["count"])


def test_candles_default_page_is_the_newest_rows_oldest_first(client, link_candles):
    # The published client's get_candles defaults: limit=100, offset=0, sort_order=asc, no start.
    response = client.get("/data/candles", {"pair": "LINKUSDT", "period": "1m", "limit": 100, "offset": 0,
                                            "sort_order": "asc"})  # fmt: skip

    assert response.status_code == 200
    body = response.json()
    assert (body["pair"], body["period"]) == ("LINKUSDT", "1m")
    assert len(body["data"]) == 100
    for row, expected in zip(body["data"], link_candles[-100:], strict=True):
        assert_candle(row, expected)
    assert_pagination(body["pagination"], total=CANDLE_COUNT, limit=100, offset=0)
    assert body["sort"] == {"by": "timestamp", "order": "asc"}
    metadata = body["metadata"]
    assert metadata["collection"] == "candles_LINKUSDT_1m"
    assert metadata["source"] == "mongodb"
    assert metadata["records_returned"] == 100
    assert float(metadata["data_completeness"]) == 100.0
    assert datetime.fromisoformat(metadata["last_updated"]) == utc_ms(link_candles[-1]["open_time"])
    assert body["parameters"] == {"pair": "LINKUSDT", "period": "1m", "start": None, "end": None}


def test_candles_250_desc_are_the_most_recent_whatever_their_age(client, link_candles):
    # The TA bot: `/data/candles?pair=...&period=...&limit=250&sort_order=desc` on data from February 2023.
    body = client.get("/data/candles?pair=LINKUSDT&period=1m&limit=250&sort_order=desc").json()

    assert [pd.to_datetime(row["timestamp"], utc=True) for row in body["data"]] == [
        pd.Timestamp(utc_ms(row["open_time"])) for row in reversed(link_candles[-250:])
    ]
    assert_candle(body["data"][0], link_candles[-1])
    assert body["sort"] == {"by": "timestamp", "order": "desc"}


def test_candles_offset_steps_back_in_time(client, link_candles):
    body = client.get("/data/candles?pair=LINKUSDT&period=1m&limit=100&offset=100").json()

    for row, expected in zip(body["data"], link_candles[-200:-100], strict=True):
        assert_candle(row, expected)
    assert_pagination(body["pagination"], total=CANDLE_COUNT, limit=100, offset=100)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2023-02-01T01:00:00", "2023-02-01T01:30:00"),  # naive: UTC
        ("2023-02-01T01:00:00Z", "2023-02-01T01:30:00Z"),
        ("2023-02-01T02:00:00+01:00", "2023-02-01T01:30:00+00:00"),
    ],
)
def test_candles_in_a_range_accept_naive_z_and_offset_times(client, link_candles, start, end):
    # The published client sends `start.isoformat()`, the data extractor naive or Z times.
    body = client.get("/data/candles", {"pair": "LINKUSDT", "period": "1m", "start": start, "end": end}).json()

    expected = link_candles[60:90]
    assert [row["timestamp"] for row in body["data"]] == [
        utc_ms(row["open_time"]).isoformat(timespec="milliseconds").replace("+00:00", "Z") for row in expected
    ]
    assert_pagination(body["pagination"], total=30, limit=100, offset=0)
    assert datetime.fromisoformat(body["parameters"]["start"]) == datetime(2023, 2, 1, 1, tzinfo=UTC)


def test_trades_carry_side_and_the_newest_page(client, load):
    messages = recorded.trades(recorded.BTC_CAPTURE, 300)
    load(messages)
    recorded_trades = [json.loads(message)["data"] for message in messages]

    body = client.get("/data/trades", {"pair": "BTCUSDT", "limit": 100, "offset": 0, "sort_order": "asc"}).json()

    newest = sorted(recorded_trades, key=lambda trade: (trade["T"], trade["t"]))[-100:]
    assert [row["trade_id"] for row in body["data"]] == [trade["t"] for trade in newest]
    for row, trade in zip(body["data"], newest, strict=True):
        assert isinstance(row["trade_id"], int)
        assert float(row["price"]) == float(trade["p"]) and Decimal(row["quantity"]) == Decimal(trade["q"])
        assert row["side"] == ("sell" if trade["m"] else "buy")
        assert row["is_buyer_maker"] is trade["m"]
        assert datetime.fromisoformat(row["timestamp"]) == utc_ms(trade["T"])
    assert {row["side"] for row in body["data"]} == {"buy", "sell"}
    assert_pagination(body["pagination"], total=300, limit=100, offset=0)


def test_depth_is_the_order_book(client, load):
    frame = recorded.message("depthUpdate_partial.json")
    load([frame])
    data = json.loads(frame)["data"]

    response = client.get("/data/depth", {"pair": "ETHUSDT"})

    assert response.status_code == 200
    body = response.json()
    book = body["data"]
    assert book["bids"] == data["b"] and book["asks"] == data["a"]  # best first, the exchange's strings
    assert all(isinstance(value, str) for level in book["bids"] + book["asks"] for value in level)
    assert float(book["bids"][0][0]) > float(book["bids"][-1][0])
    assert float(book["asks"][0][0]) < float(book["asks"][-1][0])
    assert book["last_update_id"] == data["u"]
    assert datetime.fromisoformat(body["metadata"]["timestamp"]) == utc_ms(data["E"])
    assert (body["metadata"]["source"], body["metadata"]["collection"]) == ("mongodb", "depth_ETHUSDT")


def test_depth_without_a_book_is_empty_and_the_updates_have_their_own_path(client, load):
    diffs = [message for message in recorded.cryptofeed_messages("@depth@100ms") if b"sushiusdt" in message]
    load(diffs)

    book = client.get("/data/depth", {"pair": "SUSHIUSDT"}).json()
    updates = client.get("/data/depth/updates", {"pair": "SUSHIUSDT", "limit": 10, "sort_order": "desc"}).json()

    assert book["data"] == {"bids": [], "asks": [], "last_update_id": 0}
    assert "SUSHIUSDT" in book["metadata"]["message"]
    last = json.loads(diffs[-1])["data"]
    assert updates["data"][0]["final_update_id"] == last["u"]
    assert updates["pagination"]["total"] == len(diffs)


def test_funding_rows(client, load):
    load([recorded.message("markPriceUpdate.json"), recorded.message("markPriceUpdate_arr.json")])
    latest = json.loads(recorded.message("markPriceUpdate_arr.json"))["data"][0]

    body = client.get("/data/funding", {"pair": "BTCUSDT", "limit": 100, "offset": 0, "sort_order": "asc"}).json()

    [row] = body["data"]  # one funding time; the later update before it wins
    assert datetime.fromisoformat(row["timestamp"]) == utc_ms(latest["T"])
    assert float(row["funding_rate"]) == float(latest["r"])
    assert Decimal(row["mark_price"]) == Decimal(latest["p"])
    assert_pagination(body["pagination"], total=1, limit=100, offset=0)


@pytest.mark.parametrize(
    "path",
    ["/data/candles?pair=DOGEUSDT&period=1h", "/data/trades?pair=DOGEUSDT", "/data/funding?pair=DOGEUSDT"],
)
def test_a_pair_with_no_rows_is_200_with_an_empty_page_and_a_message(client, mongo_db, path):
    response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    assert "DOGEUSDT" in body["metadata"]["message"]
    assert_pagination(body["pagination"], total=0, limit=100, offset=0)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("pair=BTC/USDT&period=1h", "pair"),
        ("pair=BTCUSDT&period=7m", "period"),
        ("pair=BTCUSDT&period=1h&limit=1001", "limit"),
        ("pair=BTCUSDT&period=1h&sort_order=up", "sort_order"),
        ("pair=BTCUSDT&period=1h&start=yesterday", "start"),
    ],
)
def test_a_malformed_parameter_is_400_naming_it(client, mongo_db, query, parameter):
    response = client.get(f"/data/candles?{query}")

    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
    assert response.json()["detail"].startswith(f"{parameter}: ")
