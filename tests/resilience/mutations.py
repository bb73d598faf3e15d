"""Bad input made from good messages: a seeded generator of mutated Binance websocket messages.

Each `Case` says how it was made and what must become of it where that is certain ("stored", "dead_letter" with a
reason, "ignored"); where a mutation may or may not matter (a dropped optional field, a wrong type in a field the
parser does not read) the expectation is "any", and the test only demands that the message is accounted for.
"""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingestion.tests import samples

MB = 1024 * 1024
# Fields that are prices (must be > 0) per event type, as (path to the object, key).
PRICES = {
    "aggTrade": [((), "p")],
    "trade": [((), "p")],
    "kline": [(("k",), "o"), (("k",), "h"), (("k",), "l"), (("k",), "c")],
    "markPriceUpdate": [((), "p")],
    "24hrTicker": [((), "c")],
    "bookTicker": [((), "b"), ((), "a")],
    "forceOrder": [(("o",), "p")],
    "depthUpdate": [],  # levels are kept as the exchange's strings; only their syntax is checked
}
NOT_FINITE = ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN", "1e999999", "-1e999999"]
HUGE = [10**30, 2**64 - 1, 2**63, -(2**63) - 1, 1e308, -1e308, "1" + "0" * 60, "9" * 40 + ".5", "1e400"]
NOT_POSITIVE = ["0", "-1.5", "0.000", "-0", "-0.00000001"]
UNKNOWN_EVENTS = ["ACCOUNT_UPDATE", "listenKeyExpired", "newEventType", "depthSnapshot", "TRADE", "kline_2"]
OTHER_VALUES = [0, -1, 1.5, "", "x", [], {}, [1, 2], {"a": 1}, True, False, None]


@dataclass(frozen=True)
class Case:
    mutation: str
    payload: bytes
    expect: str = "any"  # stored | dead_letter | ignored | any
    reason: str | None = None  # the dead letter's reason, when certain


def seed_messages(shared_ws: Path | None) -> list[bytes]:
    """The real single messages of ../shared/data/binance/ws (when present) plus the suite's own samples."""
    seeds = list(samples.ALL.values())
    if shared_ws is not None and shared_ws.is_dir():
        seeds += [path.read_bytes() for path in sorted(shared_ws.glob("*.json"))]
    return seeds


def _dumps(message: object) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


class Mutator:
    """Seeded: the same seed gives the same cases, so a failure can be replayed."""

    def __init__(self, seeds: list[bytes], *, seed: int, oversized_bytes: int = 2 * MB) -> None:
        self.random = random.Random(seed)
        self.oversized_bytes = oversized_bytes
        self.storable = [message for message in map(json.loads, seeds) if self._event(message).get("e") in PRICES]
        self._serial = 0

    # --- building blocks ----------------------------------------------------------------------------------

    @staticmethod
    def _event(message: object) -> dict:
        data = message.get("data", message) if isinstance(message, dict) else message
        return data[0] if isinstance(data, list) and data else data if isinstance(data, dict) else {}

    def _fresh(self, *, priced: bool = False) -> tuple[dict, dict]:
        """A deep copy of a storable seed with identities of its own (so it is a new row, not a duplicate)."""
        seeds = [seed for seed in self.storable if PRICES[self._event(seed)["e"]]] if priced else self.storable
        message = json.loads(_dumps(self.random.choice(seeds)))
        event = self._event(message)
        if isinstance(message, dict) and isinstance(message.get("data"), list):
            message["data"] = [event]  # an array seed keeps one event: the others would be stored regardless
        self._serial += 1
        serial = self._serial
        event["E"] += serial
        kind = event["e"]
        if kind == "aggTrade":
            event["a"] += serial
        elif kind == "trade":
            event["t"] += serial
        elif kind in ("depthUpdate", "bookTicker"):
            event["u"] += serial
        elif kind == "kline":
            event["k"]["t"] += serial * 60_000
            event["k"]["T"] += serial * 60_000
        elif kind == "markPriceUpdate" and event.get("T"):
            event["T"] += serial * 8 * 3_600_000
            event["E"] = event["T"] - 1000  # before its funding time, as live updates are
        if self.random.random() < 0.3:
            message = event  # a bare event rather than the combined-stream wrapper
        return message, event

    def _field(self, event: dict) -> str | None:
        keys = [key for key in event if key != "e"]
        return self.random.choice(keys) if keys else None

    # --- mutations: each returns a Case -------------------------------------------------------------------

    def control(self) -> Case:
        message, _event = self._fresh()
        return Case("control", _dumps(message), "stored")

    def truncated(self) -> Case:
        payload = _dumps(self._fresh()[0])
        return Case("truncated", payload[: self.random.randrange(len(payload))], "dead_letter", "invalid_json")

    def wrong_type(self) -> Case:
        message, event = self._fresh()
        key = self._field(event)
        event[key] = self.random.choice([value for value in OTHER_VALUES if type(value) is not type(event[key])])
        return Case("wrong_type", _dumps(message))

    def wrong_type_event(self) -> Case:
        message, event = self._fresh()
        event["e"] = self.random.choice([5, None, True, ["trade"], {"e": "trade"}, 1.5])
        return Case("wrong_type_event", _dumps(message), "dead_letter")

    def missing_field(self) -> Case:
        message, event = self._fresh()
        del event[self._field(event)]
        return Case("missing_field", _dumps(message))

    def huge_number(self) -> Case:
        message, event = self._fresh()
        event[self._field(event)] = self.random.choice(HUGE)
        return Case("huge_number", _dumps(message))

    def not_finite(self) -> Case:
        message, event = self._fresh(priced=True)
        location, key = self.random.choice(PRICES[event["e"]])
        self._at(event, location)[key] = self.random.choice(NOT_FINITE)
        return Case("not_finite", _dumps(message), "dead_letter", "wrong_type")

    def not_positive(self) -> Case:
        message, event = self._fresh(priced=True)
        location, key = self.random.choice(PRICES[event["e"]])
        self._at(event, location)[key] = self.random.choice(NOT_POSITIVE)
        return Case("not_positive", _dumps(message), "dead_letter", "non_positive_price")

    def unknown_event(self) -> Case:
        message, event = self._fresh()
        event["e"] = self.random.choice(UNKNOWN_EVENTS)
        return Case("unknown_event", _dumps(message), "ignored")

    def deep_nesting(self) -> Case:
        """A field (or the event type) holding nested arrays/objects: 300 and 1,000 levels parse (orjson reads up
        to 1,024), 10,000 levels do not."""
        message, event = self._fresh()
        depth = self.random.choice([300, 1000, 10_000])
        key = self.random.choice(["e", self._field(event), "extra"])
        event[key] = "__DEEP__"
        opening, closing = ("[", "]") if self.random.random() < 0.5 else ('{"x":', "}")
        payload = _dumps(message).replace(b'"__DEEP__"', (opening * depth + "1" + closing * depth).encode(), 1)
        if depth == 10_000:
            return Case("deep_nesting", payload, "dead_letter", "invalid_json")
        return Case("deep_nesting", payload, "dead_letter" if key == "e" else "any")

    def oversized(self) -> Case:
        """An unknown extra field of `oversized_bytes` (unknown fields are normal: stored) or a price that big."""
        message, event = self._fresh(priced=True)
        if self.random.random() < 0.5:
            event["padding"] = "x" * self.oversized_bytes
            return Case("oversized", _dumps(message), "stored")
        location, key = self.random.choice(PRICES[event["e"]])
        self._at(event, location)[key] = "9" * self.oversized_bytes
        return Case("oversized", _dumps(message), "dead_letter", "wrong_type")

    def invalid_utf8(self) -> Case:
        payload = _dumps(self._fresh()[0])
        at = self.random.randrange(1, len(payload) - 1)
        bad = self.random.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])
        return Case("invalid_utf8", payload[:at] + bad + payload[at:], "dead_letter", "invalid_json")

    def empty_or_null(self) -> Case:
        payload, reason = self.random.choice(
            [
                (b"", "invalid_json"),
                (b"   ", "invalid_json"),
                (b"null", "no_event"),
                (b"{}", "no_event"),
                (b"[]", "no_event"),
                (b'{"data":null}', "no_event"),
                (b'{"stream":"btcusdt@trade","data":{}}', "no_event"),
                (b"123", "no_event"),
                (b'"text"', "no_event"),
                (b"\x00", "invalid_json"),
            ]
        )
        return Case("empty_or_null", payload, "dead_letter", reason)

    def array(self) -> Case:
        """An array payload mixing good events with a mutated one: the good ones are stored either way."""
        events = [self._fresh()[1] for _ in range(self.random.randint(1, 3))]
        broken = self.random.choice([self.not_positive, self.wrong_type, self.unknown_event, self.missing_field])()
        events.append(self._event(json.loads(broken.payload)))
        self.random.shuffle(events)
        return Case("array", _dumps(events), "stored")

    @staticmethod
    def _at(event: dict, location: tuple) -> dict:
        for step in location:
            event = event[step]
        return event

    MUTATIONS = (
        "truncated",
        "wrong_type",
        "wrong_type_event",
        "missing_field",
        "huge_number",
        "not_finite",
        "not_positive",
        "unknown_event",
        "deep_nesting",
        "invalid_utf8",
        "empty_or_null",
        "array",
    )

    def cases(self, count: int, *, controls: float = 0.2, oversized: float = 0.01) -> Iterator[Case]:
        for _ in range(count):
            draw = self.random.random()
            if draw < controls:
                yield self.control()
            elif draw < controls + oversized:
                yield self.oversized()
            else:
                yield getattr(self, self.random.choice(self.MUTATIONS))()
