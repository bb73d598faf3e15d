import random

import pytest

from ingestion.api.rows import decimal_text
from ingestion.parsing.decimals import to_decimal128


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
