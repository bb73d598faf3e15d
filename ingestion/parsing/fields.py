"""Typed reads of one event's fields, raising the rejection reason on bad input.

Each reader takes the event dict and a key and returns the stored form: Decimal128 for prices and quantities,
aware UTC datetimes for Binance's epoch milliseconds. `optional_*` readers return None for absent (or, for
decimals, empty) fields: the exchange adds and drops optional fields over time.
"""

from datetime import datetime
from functools import lru_cache
from itertools import chain

from bson.decimal128 import Decimal128

from petrosa_dm.market.timeutils import MAX_VALID, MIN_VALID, from_ms, to_ms

from .decimals import to_decimal128
from .errors import ImpossibleTime, MissingField, NegativeQuantity, NonPositivePrice, WrongType

MIN_VALID_MS = to_ms(MIN_VALID)
MAX_VALID_MS = to_ms(MAX_VALID)
# BSON integers are 64-bit signed; orjson reads unsigned 64-bit ones too, which the store could never write.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def required(event: dict, key: str) -> object:
    try:
        return event[key]
    except KeyError:
        raise MissingField(f"missing field {key!r}") from None


# The readers below check the common, valid case first and only then work out which error applies: they run
# several times for every message, so each saved call counts.


def decimal(event: dict, key: str) -> Decimal128:
    """A quantity or volume: >= 0."""
    value, positive = _decimal(event, key)
    if not positive and event[key].startswith("-"):
        raise NegativeQuantity(f"field {key!r} must be a quantity >= 0, got {event[key]!r}")
    return value


def optional_quantity(event: dict, key: str) -> Decimal128 | None:
    value = event.get(key)
    if value is None or value == "":
        return None
    return decimal(event, key)


def price(event: dict, key: str) -> Decimal128:
    """A price that must be > 0."""
    value, positive = _decimal(event, key)
    if not positive:
        raise NonPositivePrice(f"field {key!r} must be a positive price, got {event[key]!r}")
    return value


def optional_decimal(event: dict, key: str) -> Decimal128 | None:
    """A signed decimal (price changes, funding rates) or an optional price."""
    value = event.get(key)
    if value is None or value == "":
        return None
    return _decimal(event, key)[0]


def _decimal(event: dict, key: str) -> tuple[Decimal128, bool]:
    value = event.get(key)
    if type(value) is not str:
        required(event, key)
        raise WrongType(f"field {key!r} must be a decimal string, got {value!r}")
    try:
        return to_decimal128(value)
    except ValueError as exc:
        raise WrongType(f"field {key!r}: {exc}") from None


def integer(event: dict, key: str) -> int:
    value = event.get(key)
    if type(value) is not int:
        required(event, key)
        raise WrongType(f"field {key!r} must be an integer, got {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise WrongType(f"field {key!r}: {value} does not fit a 64-bit integer")
    return value


def optional_integer(event: dict, key: str) -> int | None:
    return None if event.get(key) is None else integer(event, key)


def time(event: dict, key: str) -> datetime:
    """Epoch milliseconds within timeutils' plausible range, as an aware UTC datetime."""
    ms = event.get(key)
    if type(ms) is int and MIN_VALID_MS <= ms < MAX_VALID_MS:
        return _moment(ms)
    ms = integer(event, key)
    raise ImpossibleTime(f"field {key!r}: {ms} ms is outside {MIN_VALID.year}-{MAX_VALID.year}")


# An event's times repeat within a message (E and T) and across a burst of messages of the same millisecond.
_moment = lru_cache(maxsize=1 << 14)(from_ms)


def optional_time(event: dict, key: str) -> datetime | None:
    return None if event.get(key) is None else time(event, key)


def boolean(event: dict, key: str) -> bool:
    value = required(event, key)
    if type(value) is not bool:
        raise WrongType(f"field {key!r} must be true or false, got {value!r}")
    return value


def text(event: dict, key: str) -> str:
    value = required(event, key)
    if type(value) is not str or not value:
        raise WrongType(f"field {key!r} must be a non-empty string, got {value!r}")
    return value


def optional_text(event: dict, key: str) -> str | None:
    return None if event.get(key) is None else text(event, key)


def mapping(event: dict, key: str) -> dict:
    value = required(event, key)
    if type(value) is not dict:
        raise WrongType(f"field {key!r} must be an object, got {type(value).__name__}")
    return value


def levels(event: dict, key: str) -> list:
    """Order-book levels, kept as the exchange's [price, quantity] string pairs.

    A depth message can carry a thousand numbers, so the checks run over all of them at once, in C: every level a
    list of two, every item a string (joining raises otherwise), only ASCII digits and dots."""
    value = required(event, key)
    if type(value) is not list:
        raise WrongType(f"field {key!r} must be a list of [price, quantity] pairs")
    if not value:
        return value
    try:
        if set(map(type, value)) != {list} or set(map(len, value)) != {2}:
            raise TypeError
        joined = "".join(chain.from_iterable(value))
    except TypeError:
        raise WrongType(f"field {key!r}: every level must be a [price, quantity] pair of strings") from None
    if not (joined.isascii() and joined.replace(".", "").isdigit()):
        raise WrongType(f"field {key!r}: levels must hold plain decimal strings")
    return value


def without_none(row: dict) -> dict:
    """Absent optional fields are left out of the stored row rather than stored as null."""
    return {key: value for key, value in row.items() if value is not None}
