"""What a replay of the recorded captures must leave in the store, worked out here from the capture lines alone.

The expected identities are read with plain `json` from the lines (not with the product's parser), so a parser
that dropped or invented rows would show up as a difference.
"""

import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

CAPTURES = Path("binance/ws/captures")
CRYPTOFEED = CAPTURES / "cryptofeed_BINANCE_FUTURES.ws.1.0.txt"
HFT_BTCUSDT = CAPTURES / "hftbacktest_usdm_btcusdt_20240808.gz"
# The identity of a stored row per collection prefix (the unique keys of ingestion/documents.py).
IDENTITY = {
    "trades": ("kind", "trade_id"),
    "depth": ("final_update_id",),
    "candles": ("open_time",),
    "book_tickers": ("update_id",),
}


def capture_messages(path: Path, *, limit: int | None = None) -> list[bytes]:
    """The JSON of each message line: `<receive time>: <json>` (cryptofeed) or `<ns> <json>` (hftbacktest).
    Lines that do not start with a receive time (cryptofeed's subscribe URL) hold no message."""
    opener = gzip.open if path.suffix == ".gz" else open
    messages: list[bytes] = []
    with opener(path, "rb") as lines:
        for line in lines:
            if limit is not None and len(messages) >= limit:
                break
            line = line.strip()
            if line[:1].isdigit():
                messages.append(line.partition(b" ")[2])
    return messages


def replayed_messages(path: Path, *, limit: int | None = None) -> list[bytes]:
    """What `manage.py replay --limit` publishes of a capture: its socket messages, at most `limit`. The REST
    depth snapshot an hftbacktest capture records is no socket message: the replay leaves it out."""
    socket = [raw for raw in capture_messages(path) if not _is_rest_depth_body(json.loads(raw))]
    return socket[:limit]


def _is_rest_depth_body(message: object) -> bool:
    return isinstance(message, dict) and "lastUpdateId" in message and "e" not in message


def expected_identities(messages: list[bytes]) -> tuple[dict[str, set], int]:
    """(identities per collection, messages that carry no storable event: dead letters)."""
    expected: dict[str, set] = defaultdict(set)
    unstorable = 0
    for raw in messages:
        message = json.loads(raw)
        event = message.get("data", message)
        kind, symbol = event.get("e"), event.get("s")
        if kind == "aggTrade":
            expected[f"trades_{symbol}"].add(("aggTrade", event["a"]))
        elif kind == "trade":
            expected[f"trades_{symbol}"].add(("trade", event["t"]))
        elif kind == "depthUpdate":
            expected[f"depth_{symbol}"].add((event["u"],))
        elif kind == "kline":
            expected[f"candles_{symbol}_{event['k']['i']}"].add((event["k"]["t"],))
        elif kind == "bookTicker":
            expected[f"book_tickers_{symbol}"].add((event["u"],))
        else:
            unstorable += 1  # an event the store does not keep: dead-lettered
    return dict(expected), unstorable


def _plain(value: object) -> object:
    if isinstance(value, datetime):  # candles' open_time, compared with the capture's epoch milliseconds
        return round(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)
    return value


def stored_identities(database) -> dict[str, list[tuple]]:
    """The identity of every stored row, per market-data collection (a list: a doubled row shows twice)."""
    found = {}
    for name in database.list_collection_names():
        prefix = next((prefix for prefix in IDENTITY if name.startswith(f"{prefix}_")), None)
        if prefix is None:
            continue
        fields = IDENTITY[prefix]
        projection = dict.fromkeys(fields, 1) | {"_id": 0}
        found[name] = [tuple(_plain(row[field]) for field in fields) for row in database[name].find({}, projection)]
    return found


def compare(database, expected: dict[str, set]) -> dict[str, tuple[int, int, int, int]]:
    """Per collection: (expected, stored, lost, doubled). Empty differences mean the store is exactly right."""
    found = stored_identities(database)
    report = {}
    for name in sorted(set(expected) | set(found)):
        wanted, rows = expected.get(name, set()), found.get(name, [])
        lost = len(wanted - set(rows))
        doubled = len(rows) - len(set(rows))
        report[name] = (len(wanted), len(rows), lost, doubled + len(set(rows) - wanted))
    return report


def assert_exact(database, expected: dict[str, set], *, label: str) -> None:
    report = compare(database, expected)
    print(f"[{label}] collection: expected / stored / lost / doubled-or-extra")
    for name, counts in report.items():
        print(f"[{label}]   {name}: {counts[0]} / {counts[1]} / {counts[2]} / {counts[3]}")
    wrong = {name: counts for name, counts in report.items() if counts[0] != counts[1] or counts[2] or counts[3]}
    total = sum(counts[1] for counts in report.values())
    assert not wrong, f"[{label}] stored {total} rows; wrong collections (expected, stored, lost, doubled): {wrong}"
