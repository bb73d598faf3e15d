"""Decimal128 values decoded at half the cost: every stored price and quantity is one (8 per candle).

pymongo's C decoder builds each Decimal128 by calling the class's `from_bid(bytes)`, a Python classmethod that
checks its argument and calls the constructor, which checks again which of five input types it got: about 1 us a
value here, 8 ms of a 1,000-candle page. `install()` swaps in a `from_bid` that fills the two 64-bit halves
directly (the constructor's tuple form does the same after its checks), after checking on sample values, NaN and
infinities included, that it builds values equal to the library's own, bit for bit. If the library changes shape
(the slots are private), the check fails and the library's own decoding stays: slower, never wrong.
Installed once per process by the core app (`petrosa_dm.apps`).
"""

import logging
import struct
from contextlib import contextmanager

from bson.decimal128 import Decimal128

logger = logging.getLogger(__name__)

_HALVES = struct.Struct("<QQ")  # the BID bytes: low 64 bits, then high, little-endian
_new = object.__new__
_library_from_bid = Decimal128.from_bid.__func__
SAMPLES = ("61800.20", "0.00000000", "-0.001", "1E+6", "123456789012345678901234.5678", "NaN", "-Infinity")


def _from_bid(cls, value):
    if value.__class__ is not bytes or len(value) != 16:
        return _library_from_bid(cls, value)  # its own errors for anything else
    decimal = _new(cls)
    decimal._Decimal128__low, decimal._Decimal128__high = _HALVES.unpack(value)
    return decimal


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
