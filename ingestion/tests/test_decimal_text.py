import random
from datetime import UTC, datetime

import pytest
from bson import Decimal128

from ingestion.api.rows import decimal_text
from ingestion.parsing.decimals import to_decimal128
from petrosa_dm.market.timeutils import time_text


@pytest.mark.parametrize(
    "text", ["0.00000000", "0", "61800.30", "-0.00010000", "0.0000000005", "1000", "7.6110", "58940.14924532"]
)
def test_stored_decimals_read_back_as_the_exchanges_text(text):
    assert decimal_text(to_decimal128(text)[0]) == text


def test_random_exchange_strings_round_trip():
    generator = random.Random(7)
    for _ in range(2000):
        whole = str(generator.randrange(0, 10 ** generator.randrange(1, 12)))
        fraction = "".join(generator.choice("0123456789") for _ in range(generator.randrange(0, 12)))
        text = f"{whole}.{fraction}" if fraction else whole
        assert decimal_text(to_decimal128(text)[0]) == text


def test_the_private_halves_read_are_the_bid_bits():
    value = to_decimal128("-58940.14924532")[0]
    high, low = value._Decimal128__high, value._Decimal128__low
    assert ((high << 64) | low).to_bytes(16, "little") == value.bid


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1E+3"])
def test_values_other_tools_write_read_back_through_str(text):
    assert decimal_text(Decimal128(text)) == str(Decimal128(text))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 8, 8, 23, 55, 39, 123999, tzinfo=UTC),
        datetime(2024, 8, 8, 23, 55, 39, 999, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    ],
)
def test_times_read_as_iso_utc_milliseconds_with_z(moment):
    expected = moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    assert time_text(moment) == expected
    assert time_text(moment.replace(tzinfo=None)) == expected  # naive UTC, as shown pages read them
    assert time_text("2024-08-08") is None
