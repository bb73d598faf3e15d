import hashlib
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
        "size": 1,
        "sha256": hashlib.sha256(b"{").hexdigest(),
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


def test_bad_events_of_an_array_share_one_dead_letter_listing_each_rejection():
    event = json.loads(samples.MARK_PRICE)["data"]
    payload = json.dumps([event, event | {"p": "0"}, event | {"E": 5}]).encode()
    batch = batch_parse(payloads=[(payload, "s")], ingested_at=NOW, message_id=lambda index: "STREAM:9")
    [letter] = batch.dead_letters
    assert (letter["_id"], letter["reason"], letter["raw"], letter["rejected_events"]) == (
        "STREAM:9",
        "non_positive_price",
        payload.decode(),
        2,
    )
    assert [(item["index"], item["reason"]) for item in letter["rejections"]] == [
        (1, "non_positive_price"),
        (2, "impossible_time"),
    ]
    assert batch.failed == {"non_positive_price": 1, "impossible_time": 1}
    assert batch.row_count == 2


def test_a_dead_letter_keeps_the_payload_once_cut_at_the_limit_with_its_hash_and_capped_rejections():
    event = json.loads(samples.MARK_PRICE)["data"]
    payload = json.dumps([event | {"p": "-1", "pad": "x" * 500} for _ in range(1000)]).encode()
    batch = batch_parse(payloads=[(payload, "s")], ingested_at=NOW, max_raw_bytes=1000, max_rejections=10)
    [letter] = batch.dead_letters
    assert letter["raw"] == payload[:1000].decode() and letter["truncated"] is True
    assert (letter["size"], letter["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert letter["rejected_events"] == 1000 and len(letter["rejections"]) == 10
    assert batch.failed == {"non_positive_price": 1000}
