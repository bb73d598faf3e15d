"""Finding 6: one candle dated 2099 became the newest row of its series, so completeness fell to 0 (a gap of 38
million candles) while freshness stayed at 100 and hid a stale feed.

The live consumer now rejects event, candle open and trade times more than INGEST_MAX_FUTURE_SKEW_SECONDS past now
(dead letter `impossible_time`); times within the skew (clocks differ a little) are stored.
"""

import asyncio
import json
from datetime import timedelta

import pytest

from petrosa_dm.market.timeutils import to_ms, utcnow

from .test_hostile_messages import publish, wait_for

pytestmark = pytest.mark.timeout(120)


def kline(event_time, open_time) -> bytes:
    open_ms = to_ms(open_time.replace(second=0, microsecond=0))
    candle = {"t": open_ms, "T": open_ms + 59_999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": "1.0"}
    candle |= {"c": "1.1", "h": "1.2", "l": "0.9", "v": "10", "n": 2, "x": False, "q": "11", "V": "5", "Q": "5.5"}
    event = {"e": "kline", "E": to_ms(event_time), "s": "BTCUSDT", "k": candle}
    return json.dumps({"stream": "btcusdt@kline_1m", "data": event}).encode()


def test_event_times_beyond_the_allowed_skew_are_dead_lettered_and_never_become_the_newest_row(pipeline):
    pipeline.consumer(INGEST_MAX_FUTURE_SKEW_SECONDS="60")
    now = utcnow()
    year_2099 = now.replace(year=2099)
    messages = [
        kline(year_2099, year_2099),  # the finding: a candle of 2099
        kline(now, now + timedelta(hours=1)),  # a plausible event time, an open time an hour ahead
        kline(now + timedelta(minutes=10), now),  # an event time ten minutes ahead
        kline(now + timedelta(seconds=20), now - timedelta(minutes=1)),  # within the skew: stored
        kline(now, now),  # good
    ]
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, messages))
    wait_for(lambda: pipeline.state() == (len(messages), 0, 0), timeout=60, what="every message acked")

    candles = pipeline.database["candles_BTCUSDT_1m"]
    stored = sorted(row["open_time"] for row in candles.find())
    assert stored == [
        (now - timedelta(minutes=1)).replace(second=0, microsecond=0),
        now.replace(second=0, microsecond=0),
    ]
    letters = list(pipeline.database["dead_letters"].find())
    assert [letter["reason"] for letter in letters] == ["impossible_time"] * 3
    assert all("in the future" in letter["error"] for letter in letters)
