"""Exchange decimal strings to BSON Decimal128, exactly and fast.

bson's own `Decimal128(str)` goes through `decimal` and a bit-by-bit loop in Python (about 17 us each here, several
per message). Binance sends plain decimal text (`-?digits[.digits]`), whose IEEE 754-2008 BID encoding is simply
the digits as an integer coefficient and minus the number of fraction digits as the exponent; this module builds
that encoding directly and hands anything else (exponents, signs, odd forms) to bson's exact path. Either way the
stored value keeps the exchange's digits and exponent, so nothing is rounded.

Conversions are cached: a market's prices and quantities repeat all the time (the best bid moves a few ticks, lot
sizes are few), so most strings of a batch were converted moments ago. Decimal128 is immutable, so rows may share one.
"""

from decimal import Decimal, DecimalException
from functools import lru_cache

from bson.decimal128 import Decimal128

_EXPONENT_BIAS = 6176
_SIGN = 0x8000000000000000
_LOW_MASK = 0xFFFFFFFFFFFFFFFF
_MAX_DIGITS = 34


# Only strings as long as an exchange's decimals are cached: hostile input must not fill the cache with megabytes.
_CACHED_LENGTH = 40


def to_decimal128(text: str) -> tuple[Decimal128, bool]:
    """The Decimal128 of a decimal string and whether it is > 0; ValueError for text that is not a finite number."""
    if len(text) <= _CACHED_LENGTH:
        return _cached(text)
    return _convert(text)


def _convert(text: str) -> tuple[Decimal128, bool]:
    negative = text.startswith("-")
    whole, _dot, fraction = (text[1:] if negative else text).partition(".")
    digits = whole + fraction
    if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS:
        coefficient = int(digits)
        high = ((_EXPONENT_BIAS - len(fraction)) << 49) | (coefficient >> 64)
        if negative:
            high |= _SIGN
        return Decimal128((high, coefficient & _LOW_MASK)), coefficient > 0 and not negative
    return _slow(text)


_cached = lru_cache(maxsize=1 << 14)(_convert)


def _slow(text: str) -> tuple[Decimal128, bool]:
    if not text.isascii() or text != text.strip():
        raise ValueError(f"not a decimal number: {text!r}")
    try:
        value = Decimal(text)
    except DecimalException as exc:
        raise ValueError(f"not a decimal number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    try:
        # bson's context traps inexact conversions, so more than 34 significant digits raise instead of rounding.
        return Decimal128(value), value > 0
    except (DecimalException, ValueError) as exc:
        raise ValueError(f"not representable exactly as Decimal128: {text!r}") from exc
