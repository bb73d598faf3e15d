"""Finding 5: anyone publishing could create series without limit (2,000 random symbols gave 2,000 collections
with their indexes, datasets and lineage rows).

The exchange's symbols are fetched from `/fapi/v1/exchangeInfo` (the local Binance test server) by
`manage.py refresh_symbols` and cached in the store; the live consumer then dead-letters every unknown symbol as
`unknown_symbol` and creates nothing for it, while known symbols, admin-allowed extras and lower-case spellings are
stored. Unicode look-alikes (fullwidth letters, a dotless i that upper-cases to I) are refused as names.
"""

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from django.test import override_settings

from backfills.testing.binance_server import BinanceTestServer
from petrosa_dm.market import symbols
from petrosa_dm.market.naming import InvalidName, normalize_symbol

from .conftest import PROJECT
from .test_hostile_messages import publish, wait_for

pytestmark = pytest.mark.timeout(180)

RANDOM_SYMBOLS = 200
FULLWIDTH_BTCUSDT = "".join(chr(ord(letter) + 0xFEE0) for letter in "BTCUSDT")
DOTLESS_BITUSDT = "B\u0131TUSDT"  # upper-cases to BITUSDT under Unicode rules


def trade(symbol: str, trade_id: int) -> bytes:
    event = {"e": "trade", "E": 1723161256322, "T": 1723161256322, "s": symbol, "t": trade_id}
    event |= {"p": "61800.30", "q": "0.006", "m": False}
    return json.dumps({"stream": "x@trade", "data": event}, ensure_ascii=False).encode()


def refresh(store_url: str, database_url: str, binance_url: str) -> subprocess.CompletedProcess:
    env = os.environ | {"MONGODB_URL": store_url, "DATABASE_URL": database_url}
    env |= {"BINANCE_FUTURES_BASE_URL": binance_url, "BINANCE_MAX_ATTEMPTS": "1", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "manage.py", "refresh_symbols"]
    return subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)


def test_unknown_symbols_are_dead_lettered_and_create_nothing(pipeline, own_mongo, subprocess_database):
    with BinanceTestServer(symbols=("BTCUSDT", "ETHUSDT")) as binance:
        done = refresh(own_mongo.url, subprocess_database, binance.url)
        assert done.returncode == 0, done.stderr
        assert binance.requests_to("/fapi/v1/exchangeInfo")
    cached = own_mongo.database[symbols.COLLECTION].find_one()
    assert cached["symbols"] == ["BTCUSDT", "ETHUSDT"]

    pipeline.consumer(SYMBOLS_ALLOWED_EXTRA="TESTUSDT")
    messages = [trade(f"R{number:04d}USDT", number) for number in range(RANDOM_SYMBOLS)]
    messages += [trade(FULLWIDTH_BTCUSDT, 1), trade(DOTLESS_BITUSDT, 2)]  # fullwidth letters; a dotless i
    messages += [trade("BTCUSDT", 3), trade("ethusdt", 4), trade("TESTUSDT", 5)]
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, messages))
    wait_for(lambda: pipeline.state() == (len(messages), 0, 0), timeout=60, what="every message acked")

    database = pipeline.database
    assert set(database.list_collection_names()) == {
        "trades_BTCUSDT",
        "trades_ETHUSDT",
        "trades_TESTUSDT",
        "dead_letters",
        symbols.COLLECTION,
    }
    reasons = Counter(letter["reason"] for letter in database["dead_letters"].find())
    assert reasons == {"unknown_symbol": RANDOM_SYMBOLS, "invalid_name": 2}

    # Binance unreachable: the refresh fails and the cached list stays in force.
    done = refresh(own_mongo.url, subprocess_database, "http://127.0.0.1:9")
    assert done.returncode != 0
    assert database[symbols.COLLECTION].find_one()["symbols"] == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.django_db
def test_without_a_fetched_list_the_configured_fallback_and_extras_are_the_known_symbols(mongo_db):
    symbols.forget()
    try:
        with override_settings(SYMBOLS_FALLBACK=["BTCUSDT", "ethusdt"], SYMBOLS_ALLOWED_EXTRA=["TESTUSDT"]):
            assert symbols.known_symbols() == {"BTCUSDT", "ETHUSDT", "TESTUSDT"}
        symbols.forget()
        with override_settings(SYMBOLS_FALLBACK=[], SYMBOLS_ALLOWED_EXTRA=[]):
            assert symbols.known_symbols() is None  # nothing to check against: every well-formed symbol passes
    finally:
        symbols.forget()


@pytest.mark.parametrize("look_alike", [FULLWIDTH_BTCUSDT, DOTLESS_BITUSDT.lower(), "BTCUSDT\u0130", "ßUSDT"])
def test_symbols_are_matched_as_ascii_never_by_unicode_case_folding(look_alike):
    with pytest.raises(InvalidName):
        normalize_symbol(look_alike)
    assert normalize_symbol("btcusdt") == "BTCUSDT"
