import json
from datetime import UTC, datetime

from ingestion.batches import batch_parse

from . import samples

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def kline(close: str, event_ms: int) -> bytes:
    message = json.loads(samples.KLINE)
    message["data"]["E"] = event_ms
    message["data"]["k"]["c"] = close
    return json.dumps(message).encode()


def test_rows_are_grouped_by_series_and_bad_messages_become_dead_letters():
    payloads = [(samples.TRADE, "s"), (samples.AGG_TRADE, "s"), (b"{", "s"), (samples.MARK_PRICE, "s")]
    batch = batch_parse(payloads=payloads, ingested_at=NOW, message_id=lambda index: f"STREAM:{index + 1}")
    assert {ref.collection: len(rows) for ref, rows in batch.rows.items()} == {
        "trades_BTCUSDT": 2,
        "mark_prices_BTCUSDT": 1,
        "funding_rates_BTCUSDT": 1,
    }
    [letter] = batch.dead_letters
    assert letter == {
        "_id": "STREAM:3",
        "raw": "{",
        "subject": "s",
        "reason": "invalid_json",
        "error": letter["error"],
        "received_at": NOW,
    }
    assert (batch.messages, batch.failed["invalid_json"], batch.row_count) == (4, 1, 4)


def test_only_the_newest_update_of_each_candle_in_a_batch_is_kept():
    payloads = [
        (kline("1.02", 1626992745000), "s"),
        (kline("1.03", 1626992749000), "s"),
        (kline("1.01", 1626992741424), "s"),
    ]
    [rows] = batch_parse(payloads=payloads, ingested_at=NOW).rows.values()
    assert [str(row["close"]) for row in rows] == ["1.03"]


def test_bad_events_of_an_array_get_their_own_dead_letter_ids():
    event = json.loads(samples.MARK_PRICE)["data"]
    payload = json.dumps([event, event | {"p": "0"}, event | {"E": 5}]).encode()
    batch = batch_parse(payloads=[(payload, "s")], ingested_at=NOW, message_id=lambda index: "STREAM:9")
    assert [(letter["_id"], letter["reason"]) for letter in batch.dead_letters] == [
        ("STREAM:9:0", "non_positive_price"),
        ("STREAM:9:1", "impossible_time"),
    ]
    assert batch.row_count == 2
