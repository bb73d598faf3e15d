"""Finding 10: the smaller holes, each against the real engines (NATS JetStream and the embedded store for the
consumer; the ORM database and the full middleware stack for the HTTP ones)."""

import asyncio
import json
from collections import Counter

import pytest

from .test_hostile_messages import publish, wait_for


def trade(trade_id: int, *, price: str = "61800.30", quantity: str = "0.006") -> bytes:
    event = {"e": "trade", "E": 1723161256322, "T": 1723161256322, "s": "BTCUSDT", "t": trade_id}
    event |= {"p": price, "q": quantity, "m": False}
    return json.dumps({"stream": "btcusdt@trade", "data": event}).encode()


@pytest.mark.timeout(120)
def test_decimals_follow_the_exchange_grammar_quantities_are_not_negative_and_prices_positive(pipeline):
    pipeline.consumer()
    messages = [
        trade(1, quantity="-1"),
        trade(2, price="1e400"),
        trade(3, quantity="1_000"),
        trade(4, price="0"),
        trade(5, price="+5"),
        trade(6, quantity=".5"),
        trade(7, price="-61800.30"),
        trade(8),  # good
        trade(9, quantity="0"),  # a zero quantity is the exchange's own (e.g. a removed level): stored
    ]
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, messages))
    wait_for(lambda: pipeline.state() == (len(messages), 0, 0), timeout=60, what="every message acked")
    stored = sorted(row["trade_id"] for row in pipeline.database["trades_BTCUSDT"].find())
    assert stored == [8, 9]
    reasons = Counter(letter["reason"] for letter in pipeline.database["dead_letters"].find())
    assert reasons == {"negative_quantity": 1, "wrong_type": 4, "non_positive_price": 2}
