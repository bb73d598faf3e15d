"""Decimal128 values decoded at half the cost: every stored price and quantity is one (8 per candle).

pymongo's C decoder builds each Decimal128 by calling the class's `from_bid(bytes)`, a Python classmethod that
checks its argument and calls the constructor, which checks again which of five input types it got: about 1 us a
value here, 8 ms of a 1,000-candle page. `install()` swaps in a `from_bid` that fills the two 64-bit halves
directly (the constructor's tuple form does the same after its checks), after checking on sample values, NaN and
infinities included, that it builds values equal to the library's own, bit for bit. If the library changes shape
(the slots are private), the check fails and the library's own decoding stays: slower, never wrong.
Installed once per process by the core app (`petrosa_dm.apps`).

Within `decimal_texts()` a thread's reads skip the object altogether: each plain decimal decodes straight to the
exchange's text (`bid_text`), which is all a page of the API shows (1.3 ms of a 1,000-candle page's 12.5 ms of
decoding and formatting). A per-thread switch: another thread decoding at the same time still gets Decimal128s.
"""

import logging
import struct
import threading
from contextlib import contextmanager

from bson.decimal128 import Decimal128

logger = logging.getLogger(__name__)

_HALVES = struct.Struct("<QQ")  # the BID bytes: low 64 bits, then high, little-endian
_new = object.__new__
_library_from_bid = Decimal128.from_bid.__func__
_COEFFICIENT_HIGH_MASK = (1 << 49) - 1
_EXPONENT_BIAS = 6176
SAMPLES = ("61800.20", "0.00000000", "-0.001", "1E+6", "123456789012345678901234.5678", "NaN", "-Infinity")


class _Reading(threading.local):
    texts = False  # inside decimal_texts() on this thread


_reading = _Reading()


def bid_text(low: int, high: int) -> str | None:
    """The exchange's text of a decimal from its two 64-bit BID halves: plain notation with its stored exponent
    ("0.00000000", not the `0E-8` that `str(Decimal128)` gives), without a Decimal round trip.

    None for what plain notation does not hold as stored (NaN, infinities, the large-coefficient form, positive
    exponents): Binance sends plain decimal strings, so only values written by other tools are None."""
    if (high >> 61) & 3 == 3:
        return None
    exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
    if exponent > 0:
        return None
    digits = str(((high & _COEFFICIENT_HIGH_MASK) << 64) | low)
    sign = "-" if high >> 63 else ""
    if exponent == 0:
        return sign + digits
    point = len(digits) + exponent
    if point > 0:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}0.{'0' * -point}{digits}"


def _from_bid(cls, value):
    if value.__class__ is not bytes or len(value) != 16:
        return _library_from_bid(cls, value)  # its own errors for anything else
    low, high = _HALVES.unpack(value)
    if _reading.texts and (text := bid_text(low, high)) is not None:
        return text
    decimal = _new(cls)
    decimal._Decimal128__low, decimal._Decimal128__high = low, high
    return decimal


@contextmanager
def decimal_texts():
    """Within the block, this thread's store reads decode plain decimals to their text (`bid_text`) instead of
    Decimal128 (the others stay Decimal128). For read-only pages that show the values as text: a value read here
    must never be written back. Without the fast decoder installed, values stay Decimal128."""
    previous, _reading.texts = _reading.texts, True
    try:
        yield
    finally:
        _reading.texts = previous


def _agrees() -> bool:
    try:
        for text in SAMPLES:
            expected = Decimal128(text)
            built = _from_bid(Decimal128, expected.bid)
            if built.bid != expected.bid or str(built) != str(expected) or built != expected:
                return False
    except Exception:
        return False
    return True


def install() -> bool:
    """Use the fast `from_bid` if it agrees with the library's on every sample; returns whether it is in use."""
    if Decimal128.from_bid.__func__ is _from_bid:
        return True
    if not _agrees():
        logger.warning("bson's Decimal128 changed shape: decimals are decoded by the library's own from_bid")
        return False
    Decimal128.from_bid = classmethod(_from_bid)
    return True


@contextmanager
def library_decoding():
    """The library's own `from_bid` within the block (for a baseline that reads the store as plain pymongo does)."""
    installed = Decimal128.from_bid.__func__ is _from_bid
    Decimal128.from_bid = classmethod(_library_from_bid)
    try:
        yield
    finally:
        if installed:
            Decimal128.from_bid = classmethod(_from_bid)
