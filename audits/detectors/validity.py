"""Row validity: the rules a well-formed row of each type obeys. Irregular rows are findings, never exceptions."""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from bson.decimal128 import Decimal128

from petrosa_dm.market.intervals import floor_to_grid, next_open_time
from petrosa_dm.market.timeutils import to_ms

from .timegrid import snap_to_hour

ONE_MS = timedelta(milliseconds=1)
CANDLE_PRICES = ("open", "high", "low", "close")
CANDLE_VOLUMES = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")


def number(value: object) -> Decimal | None:
    """A stored price or quantity as a Decimal (Decimal128, the exchange's string, or a number another tool wrote)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def candle_problems(row: dict, interval: str) -> list[str]:
    """What is wrong with one candle: OHLC order, negative volumes or trades, close time, grid alignment."""
    problems = []
    prices = {name: number(row.get(name)) for name in CANDLE_PRICES}
    missing = [name for name, value in prices.items() if value is None]
    if missing:
        problems.append(f"missing or non-numeric {', '.join(missing)}")
    else:
        if prices["high"] < max(prices["open"], prices["close"]):
            problems.append("high below max(open, close)")
        if prices["low"] > min(prices["open"], prices["close"]):
            problems.append("low above min(open, close)")
        if min(prices.values()) <= 0:
            problems.append("non-positive price")
    for name in CANDLE_VOLUMES:
        value = row.get(name)
        if name == "volume" or value is not None:
            amount = number(value)
            if amount is None or amount < 0:
                problems.append(f"{name} negative or missing")
    trades = row.get("trades")
    if trades is not None and (not isinstance(trades, int) or trades < 0):
        problems.append("trade count negative")
    problems.extend(_candle_time_problems(row, interval))
    return problems


def _candle_time_problems(row: dict, interval: str) -> list[str]:
    open_time: datetime = row["open_time"]
    problems = []
    if floor_to_grid(open_time, interval) != open_time:
        problems.append("open time off the interval grid")
    close_time = row.get("close_time")
    expected = next_open_time(open_time, interval) - ONE_MS
    if not isinstance(close_time, datetime) or to_ms(close_time) != to_ms(expected):
        shown = close_time.isoformat() if isinstance(close_time, datetime) else repr(close_time)
        problems.append(f"close time {shown}, expected open time + interval - 1 ms ({expected.isoformat()})")
    return problems


def funding_problems(row: dict, tolerance: timedelta) -> list[str]:
    problems = []
    if number(row.get("funding_rate")) is None:
        problems.append("missing or non-numeric funding_rate")
    funding_time = row["funding_time"]
    if abs(funding_time - snap_to_hour(funding_time)) > tolerance:
        problems.append(f"funding time {funding_time.isoformat()} is off the hour by more than {tolerance}")
    return problems


def trade_problems(row: dict) -> list[str]:
    problems = []
    for name in ("price", "quantity"):
        value = number(row.get(name))
        if value is None or value <= 0:
            problems.append(f"{name} non-positive or missing")
    first, last = row.get("first_trade_id"), row.get("last_trade_id")
    if first is not None and last is not None and first > last:
        problems.append("first_trade_id after last_trade_id")
    return problems


def depth_problems(row: dict) -> list[str]:
    first, final = row.get("first_update_id"), row.get("final_update_id")
    if first is not None and final is not None and first > final:
        return ["first_update_id after final_update_id"]
    return []
