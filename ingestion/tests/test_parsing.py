import json
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from bson.decimal128 import Decimal128

from ingestion.documents import DOCUMENTS
from ingestion.parsing import InvalidMessage, parse_message
from petrosa_dm.market.timeutils import from_ms

from . import samples

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# Stored field -> where it comes from in the Binance event ("k.t" is field t of object k).
MAPPINGS = {
    "aggTrade": {
        "trade_id": "a", "price": "p", "quantity": "q", "trade_time": "T", "event_time": "E",
        "is_buyer_maker": "m", "first_trade_id": "f", "last_trade_id": "l",
    },
    "trade": {
        "trade_id": "t", "price": "p", "quantity": "q", "trade_time": "T", "event_time": "E", "is_buyer_maker": "m",
    },
    "kline": {
        "open_time": "k.t", "close_time": "k.T", "interval": "k.i", "open": "k.o", "high": "k.h", "low": "k.l",
        "close": "k.c", "volume": "k.v", "quote_volume": "k.q", "trades": "k.n", "taker_buy_volume": "k.V",
        "taker_buy_quote_volume": "k.Q", "first_trade_id": "k.f", "last_trade_id": "k.L", "closed": "k.x",
        "event_time": "E",
    },
    "depthUpdate": {
        "first_update_id": "U", "final_update_id": "u", "prev_final_update_id": "pu", "transaction_time": "T",
        "bids": "b", "asks": "a", "event_time": "E",
    },
    "markPriceUpdate": {
        "mark_price": "p", "index_price": "i", "estimated_settle_price": "P", "funding_rate": "r",
        "next_funding_time": "T", "event_time": "E",
    },
    "funding": {"funding_time": "T", "funding_rate": "r", "mark_price": "p", "event_time": "E"},
    "24hrTicker": {
        "price_change": "p", "price_change_percent": "P", "weighted_avg_price": "w", "last_price": "c",
        "last_quantity": "Q", "open_price": "o", "high_price": "h", "low_price": "l", "volume": "v",
        "quote_volume": "q", "open_time": "O", "close_time": "C", "first_trade_id": "F", "last_trade_id": "L",
        "trade_count": "n", "event_time": "E",
    },
    "bookTicker": {
        "update_id": "u", "transaction_time": "T", "bid_price": "b", "bid_quantity": "B", "ask_price": "a",
        "ask_quantity": "A", "event_time": "E",
    },
    "forceOrder": {
        "side": "o.S", "order_type": "o.o", "time_in_force": "o.f", "price": "o.p", "average_price": "o.ap",
        "quantity": "o.q", "filled_quantity": "o.z", "status": "o.X", "trade_time": "o.T", "event_time": "E",
    },
}  # fmt: skip
MAPPINGS["continuous_kline"] = MAPPINGS["kline"]


def lookup(event: dict, path: str) -> object:
    for key in path.split("."):
        event = event[key]
    return event


def events_of(raw: bytes) -> list[dict]:
    payload = orjson.loads(raw)
    data = payload.get("data", payload) if isinstance(payload, dict) else payload
    return data if isinstance(data, list) else [data]


def assert_row_matches(row: dict, event: dict, mapping: dict) -> None:
    for stored, path in mapping.items():
        source = lookup(event, path)
        value = row[stored]
        if isinstance(value, Decimal128):
            # Exact: the exchange's digits and exponent (format "f" avoids str()'s exponent form for 0E-8).
            assert format(value.to_decimal(), "f") == source, stored
        elif isinstance(value, datetime):
            assert value == from_ms(source) and value.tzinfo is UTC, stored
        else:
            assert value == source, stored
    assert row["source"] == "stream"
    assert row["ingested_at"] == NOW


def assert_document_shape(collection: str, row: dict) -> None:
    data_type = next(t for t in DOCUMENTS if collection.startswith(f"{t.value}_"))
    fields = DOCUMENTS[data_type]._fields
    assert set(row) <= set(fields) - {"id"}, set(row) - set(fields)
    assert {name for name, field in fields.items() if field.required} <= set(row)


def check_message(raw: bytes) -> int:
    parsed = parse_message(raw, ingested_at=NOW)
    checked = 0
    for event in events_of(raw):
        rows = [(ref, row) for ref, row in parsed.rows if row["event_time"] == from_ms(event["E"])]
        symbol = event.get("s") or event.get("ps") or event["o"]["s"]
        for ref, row in rows:
            if ref.symbol != symbol:
                continue
            assert_document_shape(ref.collection, row)
            mapping = MAPPINGS["funding" if ref.data_type == "funding_rates" else event["e"]]
            assert_row_matches(row, event, mapping)
            checked += 1
    assert checked == len(parsed.rows)
    return checked


@pytest.mark.parametrize("event_type", list(samples.ALL))
def test_each_event_type_becomes_rows_with_the_exchanges_exact_values(event_type):
    assert check_message(samples.ALL[event_type]) >= 1


def test_each_event_type_goes_to_its_collection():
    collections = {
        event_type: [ref.collection for ref, _ in parse_message(raw, ingested_at=NOW).rows]
        for event_type, raw in samples.ALL.items()
    }
    assert collections == {
        "aggTrade": ["trades_BTCUSDT"],
        "trade": ["trades_BTCUSDT"],
        "kline": ["candles_CTKUSDT_1m"],
        "depthUpdate": ["depth_SUSHIUSDT"],
        "markPriceUpdate": ["mark_prices_BTCUSDT", "funding_rates_BTCUSDT"],
        "24hrTicker": ["tickers_ETHUSDT"],
        "bookTicker": ["book_tickers_BTCUSDT"],
        "forceOrder": ["liquidations_IOTXUSDT"],
    }  # fmt: skip


def test_trade_kinds_keep_their_own_ids():
    agg = parse_message(samples.AGG_TRADE, ingested_at=NOW).rows[0][1]
    trade = parse_message(samples.TRADE, ingested_at=NOW).rows[0][1]
    assert (agg["kind"], agg["trade_id"]) == ("aggTrade", 389551486)
    assert (trade["kind"], trade["trade_id"]) == ("trade", 5266583935)
    assert trade["event_time"] == datetime(2024, 8, 8, 23, 54, 16, 322000, tzinfo=UTC)


@pytest.mark.shared_data
def test_every_recorded_sample_is_stored_or_rejected_for_its_placeholder_times(shared_data):
    files = sorted((shared_data / "binance" / "ws").glob("*.json")) + sorted(
        (shared_data / "binance" / "ws" / "docs").glob("*.json")
    )
    assert len(files) >= 25
    # Binance's documentation examples use made-up times such as E=123456789 (1970): rejected, not stored.
    placeholder_times = [p for p in files if any(event["E"] < 1_262_304_000_000 for event in events_of(p.read_bytes()))]
    assert sorted(p.name for p in placeholder_times) == [
        "24hrTicker.doc.json", "aggTrade.doc.json", "depthUpdate_diff.doc.json",
    ]  # fmt: skip
    for path in placeholder_times:
        with pytest.raises(InvalidMessage) as caught:
            parse_message(path.read_bytes(), ingested_at=NOW)
        assert caught.value.reason == "impossible_time"
    for path in set(files) - set(placeholder_times):
        assert check_message(path.read_bytes()) >= 1, path.name


@pytest.mark.shared_data
def test_array_payloads_give_one_row_per_symbol(shared_data):
    raw = (shared_data / "binance" / "ws" / "markPriceUpdate_arr.json").read_bytes()
    rows = parse_message(raw, ingested_at=NOW).rows
    assert [ref.collection for ref, _ in rows] == [
        "mark_prices_BTCUSDT", "funding_rates_BTCUSDT", "mark_prices_ETHUSDT", "funding_rates_ETHUSDT",
    ]  # fmt: skip
    assert str(rows[2][1]["mark_price"]) == "1981.15704420"


def envelope(data: dict | list, **extra) -> bytes:
    message = {
        "stream": "btcusdt@trade",
        "data": data,
        "timestamp": "2024-08-08T23:54:16.400000Z",
        "message_id": "9b2f3c1e-8d7a-4f7e-9f1a-2c3d4e5f6a7b",
        "source": "binance-websocket",
        "version": "1.0",
    }
    message.update(extra)
    return json.dumps(message).encode()


TRADE_EVENT = events_of(samples.TRADE)[0]


@pytest.mark.parametrize(
    "timestamp",
    ["2024-08-08T23:54:16.400Z", "2024-08-08T23:54:16.400+00:00", "2024-08-08T23:54:16.400+00:00Z", 1723161256400],
)
def test_the_socket_clients_envelope_is_unwrapped_with_any_time_form(timestamp):
    raw = envelope(TRADE_EVENT, timestamp=timestamp, _otel_trace_context={"traceparent": "00-abc-def-01"})
    parsed = parse_message(raw, ingested_at=NOW)
    assert [row["trade_id"] for _, row in parsed.rows] == [5266583935]
    assert parsed.published_at == datetime(2024, 8, 8, 23, 54, 16, 400000, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        samples.TRADE,  # combined-stream wrapper
        json.dumps(TRADE_EVENT).encode(),  # bare event
        json.dumps([TRADE_EVENT]).encode(),  # bare array
        envelope(json.loads(samples.TRADE)),  # envelope around a combined-stream wrapper
        envelope(TRADE_EVENT, _otel_trace_headers={"traceparent": "x"}, extra_field=1),
    ],
)
def test_every_carrier_gives_the_same_row(raw):
    expected = parse_message(samples.TRADE, ingested_at=NOW).rows
    assert parse_message(raw, ingested_at=NOW).rows == expected


def test_the_kline_interval_comes_from_the_event_not_the_stream_label():
    message = json.loads(samples.KLINE)
    message["stream"] = "ctkusdt@kline"
    message["data"]["k"]["i"] = "5m"
    message["data"]["k"]["T"] = message["data"]["k"]["t"] + 299_999
    ref, row = parse_message(json.dumps(message).encode(), ingested_at=NOW).rows[0]
    assert ref.collection == "candles_CTKUSDT_5m"
    assert row["interval"] == "5m"


def test_a_closed_kline_is_marked_closed():
    message = json.loads(samples.KLINE)
    message["data"]["k"]["x"] = True
    assert parse_message(json.dumps(message).encode(), ingested_at=NOW).rows[0][1]["closed"] is True


def test_partial_depth_is_told_from_diff_depth_by_its_stream_name():
    message = json.loads(samples.DEPTH_DIFF)
    message["data"]["b"] = [["7.5040", "813"]]  # no level removed: a frame a partial stream could send
    found = {}
    for stream in ("sushiusdt@depth@100ms", "sushiusdt@depth", "sushiusdt@depth20", "sushiusdt@depth5@500ms", None):
        message["stream"] = stream
        row = parse_message(json.dumps(message).encode(), ingested_at=NOW).rows[0][1]
        found[stream] = (row["kind"], row.get("levels"))
    assert found == {
        "sushiusdt@depth@100ms": ("diff", None),
        "sushiusdt@depth": ("diff", None),
        "sushiusdt@depth20": ("partial", 20),
        "sushiusdt@depth5@500ms": ("partial", 5),
        None: ("diff", None),
    }


def test_the_recorded_partial_frame_is_stored_as_partial(shared_data):
    raw = (shared_data / "binance/ws/depthUpdate_partial.json").read_bytes()
    row = parse_message(raw, ingested_at=NOW).rows[0][1]
    assert (row["kind"], row["levels"], row["bids"][0]) == ("partial", 20, ["2886.71", "0.454"])


@pytest.mark.parametrize(
    ("stream", "bids", "why"),
    [
        ("sushiusdt@depth20@100ms", [["7.5040", "813"], ["7.6090", "0"]], "quantity 0"),
        ("sushiusdt@depth5", [["7.5040", "0.000"]], "quantity 0.000"),
        ("sushiusdt@depth5", [[f"7.50{i}", "1"] for i in range(6)], "names 5 levels but the frame holds 6 bids"),
    ],
)
def test_a_frame_contradicting_its_partial_label_is_rejected(stream, bids, why):
    message = json.loads(samples.DEPTH_DIFF) | {"stream": stream}
    message["data"]["b"] = bids
    with pytest.raises(InvalidMessage) as caught:
        parse_message(json.dumps(message).encode(), ingested_at=NOW)
    assert caught.value.reason == "depth_kind_mismatch"
    assert why in str(caught.value)


def test_depth_keeps_the_sequence_ids_and_levels_as_strings():
    row = parse_message(samples.DEPTH_DIFF, ingested_at=NOW).rows[0][1]
    assert (row["first_update_id"], row["final_update_id"], row["prev_final_update_id"]) == (
        600859599090, 600859600917, 600859598061,
    )  # fmt: skip
    assert row["bids"] == [["7.5040", "813"], ["7.6090", "0"]]


def mark_price(**changes) -> bytes:
    message = json.loads(samples.MARK_PRICE)
    message["data"].update(changes)
    return json.dumps(message).encode()


def test_a_mark_price_update_before_funding_time_gives_the_funding_row():
    rows = {ref.data_type.value: row for ref, row in parse_message(samples.MARK_PRICE, ingested_at=NOW).rows}
    funding = rows["funding_rates"]
    assert funding["funding_time"] == datetime(2021, 4, 2, 0, 0, tzinfo=UTC)
    assert str(funding["funding_rate"]) == "0.00058455"
    assert funding["event_time"] == from_ms(1617308820003)


@pytest.mark.parametrize(
    "changes", [{"E": 1617321600000}, {"E": 1617321600001}, {"r": ""}, {"T": 0}], ids=["at", "after", "no-rate", "no-T"]
)
def test_no_funding_row_at_or_after_funding_time_or_without_funding(changes):
    rows = parse_message(mark_price(**changes), ingested_at=NOW).rows
    assert [ref.data_type.value for ref, _ in rows] == ["mark_prices"]


def test_quarterly_continuous_klines_are_ignored_and_perpetual_ones_stored():
    event = {"e": "continuous_kline", "E": 1607443058651, "ps": "BTCUSDT", "ct": "PERPETUAL"}
    event["k"] = json.loads(samples.KLINE)["data"]["k"] | {"t": 1607443020000, "T": 1607443079999}
    perpetual = parse_message(json.dumps(event).encode(), ingested_at=NOW)
    quarterly = parse_message(json.dumps(event | {"ct": "CURRENT_QUARTER"}).encode(), ingested_at=NOW)
    assert [ref.collection for ref, _ in perpetual.rows] == ["candles_BTCUSDT_1m"]
    assert (quarterly.rows, quarterly.ignored) == ([], 1)


def test_unknown_event_types_are_ignored_not_rejected():
    parsed = parse_message(b'{"e":"listenKeyExpired","E":1723161256322}', ingested_at=NOW)
    assert (parsed.rows, parsed.ignored, parsed.rejected) == ([], 1, [])


def trade_with(**changes) -> bytes:
    return json.dumps(TRADE_EVENT | changes).encode()


def without(key: str) -> bytes:
    return json.dumps({k: v for k, v in TRADE_EVENT.items() if k != key}).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"e":"trade",', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"", "invalid_json"),
        (b'"hello"', "no_event"),
        (b"[]", "no_event"),
        (b'{"stream":"btcusdt@trade"}', "no_event"),
        (b'{"stream":"btcusdt@trade","data":42}', "no_event"),
        (b'{"lastUpdateId":5123107852948,"E":1723161256501,"bids":[],"asks":[]}', "no_event"),
        (trade_with(e=7), "wrong_type"),
        (without("p"), "missing_field"),
        (without("E"), "missing_field"),
        (without("s"), "missing_field"),
        (trade_with(p=61800.3), "wrong_type"),
        (trade_with(p="sixty"), "wrong_type"),
        (trade_with(p="NaN"), "wrong_type"),
        (trade_with(E="1723161256322"), "wrong_type"),
        (trade_with(m="false"), "wrong_type"),
        (trade_with(t=1.5), "wrong_type"),
        (trade_with(s=["BTCUSDT"]), "wrong_type"),
        (trade_with(s="BTC/USDT"), "invalid_name"),
        (trade_with(p="0.00"), "non_positive_price"),
        (trade_with(p="-61800.30"), "non_positive_price"),
        (trade_with(E=1723161256), "impossible_time"),
        (trade_with(T=1723161256322000), "impossible_time"),
        (trade_with(E=-1), "impossible_time"),
    ],
)
def test_bad_messages_are_rejected_with_their_reason(raw, reason):
    with pytest.raises(InvalidMessage) as caught:
        parse_message(raw, ingested_at=NOW)
    assert caught.value.reason == reason


def kline_with(**changes) -> bytes:
    message = json.loads(samples.KLINE)
    message["data"]["k"].update(changes)
    return json.dumps(message).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (kline_with(i="7m"), "invalid_name"),
        (kline_with(T=1626992700000), "impossible_time"),
        (kline_with(l="0"), "non_positive_price"),
        (kline_with(x=None), "wrong_type"),
        (json.dumps(json.loads(samples.DEPTH_DIFF)["data"] | {"b": [["7.5", "1", "2"]]}).encode(), "wrong_type"),
        (json.dumps(json.loads(samples.DEPTH_DIFF)["data"] | {"a": [["7.5", 1]]}).encode(), "wrong_type"),
        (json.dumps(json.loads(samples.DEPTH_DIFF)["data"] | {"a": [["seven", "1"]]}).encode(), "wrong_type"),
        (json.dumps(json.loads(samples.DEPTH_DIFF)["data"] | {"u": "600859600917"}).encode(), "wrong_type"),
    ],
)
def test_bad_klines_and_depth_are_rejected_with_their_reason(raw, reason):
    with pytest.raises(InvalidMessage) as caught:
        parse_message(raw, ingested_at=NOW)
    assert caught.value.reason == reason


def test_one_bad_event_in_an_array_costs_only_itself():
    good = events_of(samples.MARK_PRICE)[0]
    bad = good | {"s": "ETHUSDT", "p": "-1"}
    raw = json.dumps({"stream": "!markPrice@arr", "data": [good, bad, "junk"]}).encode()
    parsed = parse_message(raw, ingested_at=NOW)
    assert [ref.collection for ref, _ in parsed.rows] == ["mark_prices_BTCUSDT", "funding_rates_BTCUSDT"]
    assert [rejected.error.reason for rejected in parsed.rejected] == ["non_positive_price", "no_event"]
    assert [rejected.index for rejected in parsed.rejected] == [1, 2]


def test_lowercase_symbols_are_stored_under_the_upper_case_name():
    ref, row = parse_message(trade_with(s="btcusdt"), ingested_at=NOW).rows[0]
    assert (ref.collection, row["symbol"]) == ("trades_BTCUSDT", "BTCUSDT")


def test_prices_keep_every_digit_beyond_float_precision():
    row = parse_message(trade_with(p="61800.123456789012345678"), ingested_at=NOW).rows[0][1]
    assert row["price"].to_decimal() == Decimal("61800.123456789012345678")
