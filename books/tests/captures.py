"""The hftbacktest captures (../shared/data) split into what the book tests replay and what they check against.

Expectations come from the capture itself: the exchange's own bookTicker (best bid and ask after update `u`) is
compared with the reconstructed book after the diff ending at the same `u`.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from books.reconstruct import Reconstructor
from ingestion.consumer import Consumer
from ingestion.tests.helpers import bind, publish, wait_all_acked
from petrosa_dm.market.timeutils import from_ms
from tests.resilience.captures import capture_messages

CAPTURES = {
    "BTCUSDT": "binance/ws/captures/hftbacktest_usdm_btcusdt_20240808.gz",
    "ETHUSDT": "binance/ws/captures/hftbacktest_usdm_ethusdt_20240808.gz",
}


@dataclass
class DepthCapture:
    symbol: str
    diffs: list[bytes] = field(default_factory=list)  # raw depth messages, in receive order
    events: list[dict] = field(default_factory=list)  # their `data`, same order
    snapshot: dict | None = None  # the REST /fapi/v1/depth body recorded in the capture
    snapshot_position: int = 0  # diffs received before the snapshot line
    tickers: dict[int, dict] = field(default_factory=dict)  # bookTicker events whose u is some diff's final u


@cache
def load(root: Path, symbol: str) -> DepthCapture:
    capture = DepthCapture(symbol)
    tickers = []
    for raw in capture_messages(root / CAPTURES[symbol]):
        message = json.loads(raw)
        event = message.get("data", message)
        if "lastUpdateId" in event:
            capture.snapshot, capture.snapshot_position = event, len(capture.diffs)
        elif event.get("e") == "depthUpdate":
            capture.diffs.append(raw)
            capture.events.append(event)
        elif event.get("e") == "bookTicker":
            tickers.append(event)
    final_ids = {event["u"] for event in capture.events}
    capture.tickers = {ticker["u"]: ticker for ticker in tickers if ticker["u"] in final_ids}
    return capture


def row_of(event: dict) -> dict:
    return {
        "kind": "diff",
        "first_update_id": event["U"],
        "final_update_id": event["u"],
        "prev_final_update_id": event["pu"],
        "event_time": from_ms(event["E"]),
        "bids": event["b"],
        "asks": event["a"],
    }


def snapshot_row(body: dict) -> dict:
    return {
        "kind": "snapshot",
        "final_update_id": body["lastUpdateId"],
        "event_time": from_ms(body["E"]),
        "bids": body["bids"],
        "asks": body["asks"],
    }


def snapshot_after(capture: DepthCapture, index: int, levels: int = 1000) -> dict:
    """The REST body Binance would have answered right after diff `index`: the intact capture replayed up to it."""
    rebuild = Reconstructor()
    rebuild.feed(snapshot_row(capture.snapshot))
    target = capture.events[index]["u"]
    for event in sorted(capture.events, key=lambda event: event["u"]):
        if event["u"] > target:
            break
        rebuild.feed(row_of(event))
    assert rebuild.book.update_id == target
    book = rebuild.book.levels(levels)
    event = capture.events[index]
    return {"lastUpdateId": target, "E": event["E"], "T": event["T"], "bids": book["bids"], "asks": book["asks"]}


def best(ticker: dict) -> tuple:
    return (ticker["b"], ticker["B"]), (ticker["a"], ticker["A"])


async def replay(options, phases, database, symbol: str) -> Consumer:
    """Run the real consumer (with the book keeper) over `phases`: lists of raw messages, each published once the
    previous one is acked and the store holds at least `snapshots` REST snapshots of the symbol."""
    options = replace(options, keep_books=True)
    await bind(options)
    consumer = Consumer(options)
    running = asyncio.create_task(consumer.run())
    published = 0
    try:
        for payloads, snapshots in phases:
            await wait_snapshots(database, symbol, snapshots)
            published += await publish(options, payloads)
            await wait_all_acked(options, published)
        assert not running.done(), "the consumer stopped by itself"
    finally:
        consumer.stop()
        await asyncio.wait_for(running, timeout=30)
    return consumer


async def wait_snapshots(database, symbol: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while database[f"books_{symbol}"].count_documents({"kind": "snapshot"}) < count:
        assert time.monotonic() < deadline, f"no {count} depth snapshots of {symbol} after {timeout}s"
        await asyncio.sleep(0.05)
