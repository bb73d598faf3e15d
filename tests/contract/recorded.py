"""Websocket messages built from the recorded Binance data in ../shared/data (see its README), for the consumer.

Candles come from data.binance.vision kline files, sent as the closed `kline` events Binance streams for them;
trades, depth frames and mark prices are the recorded messages themselves. Nothing here invents a value.
"""

import csv
import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CANDLES = SHARED_DATA / "candles"
WS = SHARED_DATA / "binance" / "ws"
# USD-M futures 1m klines with every field (quote volume, trade count, taker volumes).
LINK_1M = CANDLES / "futures_um_LINKUSDT-1m-2023-02.csv"
# Spot BTCUSDT 1h klines, 2021-10-01 to 2022-10-31 (open time, OHLC, volume, close time).
BTC_1H = CANDLES / "spot_BTCUSDT-1h_2021-10-01_2022-10-31.csv"
BTC_CAPTURE = WS / "captures" / "hftbacktest_usdm_btcusdt_20240808.gz"
ETH_CAPTURE = WS / "captures" / "hftbacktest_usdm_ethusdt_20240808.gz"
CRYPTOFEED_CAPTURE = WS / "captures" / "cryptofeed_BINANCE_FUTURES.ws.1.0.txt"


def kline_rows(path: Path, rows: slice | None = None) -> list[dict]:
    with path.open() as handle:
        records = list(csv.DictReader(handle))
    return records[rows] if rows else records


def kline_message(row: dict, *, symbol: str, interval: str) -> bytes:
    """The closed kline event of one kline file row (fields the file lacks are left out, as optional)."""
    k = {
        "t": int(row["open_time"]),
        "T": int(row["close_time"]),
        "s": symbol,
        "i": interval,
        "o": row["open"],
        "h": row["high"],
        "l": row["low"],
        "c": row["close"],
        "v": row["volume"],
        "x": True,
    }
    optional = {"q": "quote_volume", "n": "count", "V": "taker_buy_volume", "Q": "taker_buy_quote_volume"}
    for key, column in optional.items():
        if row.get(column) not in (None, ""):
            k[key] = int(row[column]) if key == "n" else row[column]
    event = {"e": "kline", "E": int(row["close_time"]) + 1, "s": symbol, "k": k}
    return json.dumps({"stream": f"{symbol.lower()}@kline_{interval}", "data": event}).encode()


def klines(path: Path, *, symbol: str, interval: str, rows: slice | None = None) -> list[bytes]:
    return [kline_message(row, symbol=symbol, interval=interval) for row in kline_rows(path, rows)]


def capture_lines(path: Path) -> Iterator[dict]:
    """The JSON messages of an hftbacktest capture (`<receive ns> <json>` per line)."""
    with gzip.open(path, "rt") as handle:
        for line in handle:
            yield json.loads(line.partition(" ")[2])


def trades(path: Path, count: int) -> list[bytes]:
    """The first `count` recorded `@trade` messages."""
    found = []
    for message in capture_lines(path):
        if message.get("data", {}).get("e") == "trade":
            found.append(json.dumps(message).encode())
            if len(found) == count:
                break
    return found


def minute_klines_from_trades(path: Path, *, symbol: str) -> list[bytes]:
    """1m klines aggregated from every recorded trade of a capture, as Binance builds them (first, max, min and
    last price, summed quantity), sent as closed kline events; the last, unfinished minute is left out."""
    minutes: dict[int, dict] = {}
    for message in capture_lines(path):
        data = message.get("data", {})
        if data.get("e") != "trade":
            continue
        minute = data["T"] // 60_000 * 60_000
        price, quantity = Decimal(data["p"]), Decimal(data["q"])
        bar = minutes.setdefault(minute, {"open": price, "high": price, "low": price, "volume": Decimal(0), "n": 0})
        bar["high"], bar["low"] = max(bar["high"], price), min(bar["low"], price)
        bar["close"] = price
        bar["volume"] += quantity
        bar["n"] += 1
    ordered = sorted(minutes)[1:-1]  # the first and last minutes are only partly recorded
    return [
        kline_message(
            {
                "open_time": minute,
                "close_time": minute + 59_999,
                **{key: str(minutes[minute][key]) for key in ("open", "high", "low", "close", "volume")},
                "count": minutes[minute]["n"],
            },
            symbol=symbol,
            interval="1m",
        )
        for minute in ordered
    ]


def cryptofeed_messages(stream_suffix: str) -> list[bytes]:
    """Recorded messages of the cryptofeed capture whose stream ends with `stream_suffix` (e.g. `@depth@100ms`)."""
    found = []
    with CRYPTOFEED_CAPTURE.open() as handle:
        next(handle)  # the subscribe URL
        for line in handle:
            payload = line.partition(": ")[2].strip()
            if payload and json.loads(payload).get("stream", "").endswith(stream_suffix):
                found.append(payload.encode())
    return found


def message(name: str) -> bytes:
    """One recorded single message of ../shared/data/binance/ws."""
    return (WS / name).read_bytes().strip()
