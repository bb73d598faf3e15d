import pytest

from petrosa_dm.market.naming import DataType, InvalidName, collection_name, normalize_symbol, parse_collection


def test_collection_names_follow_the_contract():
    assert collection_name("candles", "btcusdt", interval="1h") == "candles_BTCUSDT_1h"
    assert collection_name(DataType.TRADES, "ETHUSDT") == "trades_ETHUSDT"
    assert collection_name("funding_rates", "XRPUSDT") == "funding_rates_XRPUSDT"
    assert collection_name("analytics", "BTCUSDT", metric="volatility") == "analytics_BTCUSDT_volatility"


@pytest.mark.parametrize(
    "name",
    [
        "candles_BTCUSDT_1M",
        "trades_1000PEPEUSDT",
        "book_tickers_ETHUSDT",
        "analytics_BTCUSDT_regime",
        "mark_prices_BTCUSDT_250627",
        "tickers_SOLUSDT",
    ],
)
def test_collection_names_round_trip(name):
    ref = parse_collection(name)
    assert ref is not None and ref.collection == name


@pytest.mark.parametrize(
    "name", ["system.users", "candles_BTCUSDT", "candles_BTCUSDT_7m", "trades_btcusdt", "dead_letters", "trades_$x"]
)
def test_names_outside_the_rules_are_not_series(name):
    assert parse_collection(name) is None


@pytest.mark.parametrize("bad", ["", "BTC-USDT", "btc usdt", "X", "$where", "BTCUSDT;drop", "A" * 40])
def test_symbols_that_could_name_arbitrary_collections_are_refused(bad):
    with pytest.raises(InvalidName):
        normalize_symbol(bad)


def test_intervals_are_case_sensitive():
    assert collection_name("candles", "BTCUSDT", interval="1M") != collection_name("candles", "BTCUSDT", interval="1m")
    with pytest.raises(InvalidName):
        collection_name("candles", "BTCUSDT", interval="1H")
