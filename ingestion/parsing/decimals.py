"""Exchange decimal strings to BSON Decimal128, exactly and fast.

bson's own `Decimal128(str)` goes through `decimal` and a bit-by-bit loop in Python (about 17 us each here, several
per message). Binance sends plain decimal text (`-?digits[.digits]`), whose IEEE 754-2008 BID encoding is simply
the digits as an integer coefficient and minus the number of fraction digits as the exponent; this module builds
that encoding directly. Anything outside the exchange's grammar (exponents such as `1e400`, `1_000`, `+1`, `.5`,
`1.`, NaN, more than 34 digits) is refused (issue 15): `Decimal` would take it, and it would be stored. The stored
value keeps the exchange's digits and exponent, so nothing is rounded.

Conversions are cached: a market's prices and quantities repeat all the time (the best bid moves a few ticks, lot
sizes are few), so most strings of a batch were converted moments ago. Decimal128 is immutable, so rows may share one.
"""

from functools import lru_cache

from bson.decimal128 import Decimal128

_EXPONENT_BIAS = 6176
_SIGN = 0x8000000000000000
_LOW_MASK = 0xFFFFFFFFFFFFFFFF
_MAX_DIGITS = 34


# Only strings as long as an exchange's decimals are cached: hostile input must not fill the cache with megabytes.
_CACHED_LENGTH = 40


def to_decimal128(text: str) -> tuple[Decimal128, bool]:
    """The Decimal128 of a decimal string and whether it is > 0; ValueError for text outside the exchange's
    grammar `-?digits[.digits]` (at most 34 digits)."""
    if len(text) <= _CACHED_LENGTH:
        return _cached(text)
    return _convert(text)


def _convert(text: str) -> tuple[Decimal128, bool]:
    negative = text.startswith("-")
    whole, dot, fraction = (text[1:] if negative else text).partition(".")
    digits = whole + fraction
    if (
        digits.isascii()
        and digits.isdigit()  # no sign, exponent or separator inside (ASCII digits only, checked just above)
        and len(digits) <= _MAX_DIGITS
        and whole
        and (fraction or not dot)
    ):
        coefficient = int(digits)
        high = ((_EXPONENT_BIAS - len(fraction)) << 49) | (coefficient >> 64)
        if negative:
            high |= _SIGN
        return Decimal128((high, coefficient & _LOW_MASK)), coefficient > 0 and not negative
    shown = text if len(text) <= _CACHED_LENGTH else f"{text[:_CACHED_LENGTH]}..."
    raise ValueError(f"not a plain decimal (digits, one point, at most {_MAX_DIGITS} digits): {shown!r}")


_cached = lru_cache(maxsize=1 << 14)(_convert)
