"""The benchmark dataset shared by bench/api.py and bench/audit.py: 1m candles in `candles_BENCHUSDT_1m`.

Loading half a million candles into the embedded store takes minutes, so it is done once per `make bench` and
reused: an already loaded collection is topped up to the current minute, so it looks like a live one.
"""

import time
from datetime import UTC, datetime, timedelta

from bson import Decimal128

from ingestion import edges, store
from ingestion.keys import keyed_collection, row_id
from petrosa_dm.market.intervals import floor_to_grid
from petrosa_dm.market.naming import series

REF = series("candles", "BENCHUSDT", interval="1m")
BATCH = 10_000
MINUTE = timedelta(minutes=1)


def candle(open_time: datetime, index: int) -> dict:
    price = 60_000 + (index * 7919) % 5000
    return {
        "symbol": REF.symbol,
        "interval": "1m",
        "open_time": open_time,
        "close_time": open_time + timedelta(seconds=59.999),
        "open": Decimal128(f"{price}.10"),
        "high": Decimal128(f"{price + 25}.50"),
        "low": Decimal128(f"{price - 25}.00"),
        "close": Decimal128(f"{price + 3}.20"),
        "volume": Decimal128(f"{index % 997}.{index % 1000:03d}"),
        "quote_volume": Decimal128(f"{(index % 997) * price}.12"),
        "trades": index % 5000,
        "taker_buy_volume": Decimal128(f"{index % 499}.5"),
        "taker_buy_quote_volume": Decimal128(f"{(index % 499) * price}.75"),
        "first_trade_id": index * 10,
        "last_trade_id": index * 10 + 9,
        "closed": True,
        "event_time": open_time + timedelta(seconds=59.999),
        "source": "rest",
        "ingested_at": open_time,
    }


def insert(target, open_times: list[datetime]) -> None:
    started = time.perf_counter()
    for offset in range(0, len(open_times), BATCH):
        chunk = open_times[offset : offset + BATCH]
        rows = [candle(t, offset + i) for i, t in enumerate(chunk)]
        target.insert_many([{"_id": row_id(REF.data_type, row), **row} for row in rows], ordered=False)
        done = offset + len(chunk)
        if done % 100_000 < BATCH or done == len(open_times):
            elapsed = time.perf_counter() - started
            print(f"  {done:,} in {elapsed:.0f} s ({done / max(elapsed, 1e-9):,.0f} docs/s)", flush=True)


def ensure_loaded(rows: int):
    """The collection with at least `rows` candles ending at the current minute."""
    target = store.collection(REF)
    now = floor_to_grid(datetime.now(UTC), "1m")
    present = target.estimated_document_count()
    if present >= rows and keyed_collection(target, REF.data_type):
        newest = edges.newest(target, "open_time")[0]["open_time"]
        print(f"reusing {present:,} candles of {REF.collection}")
    else:
        target.delete_many({})
        print(f"loading {rows:,} candles into {REF.collection}")
        insert(target, [now - MINUTE * i for i in range(rows - 1, -1, -1)])
        newest = now
    now = floor_to_grid(datetime.now(UTC), "1m")
    insert(target, [newest + MINUTE * (i + 1) for i in range(int((now - newest) / MINUTE))])
    return target
