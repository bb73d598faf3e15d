from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given
from hypothesis import strategies as st

from ingestion.parsing.decimals import to_decimal128

plain_decimals = st.builds(
    lambda sign, whole, fraction: sign + whole + fraction,
    st.sampled_from(["", "-"]),
    st.from_regex(r"\A[0-9]{1,16}\Z"),
    st.one_of(st.just(""), st.from_regex(r"\A\.[0-9]{1,16}\Z")),
)


@given(plain_decimals)
def test_the_fast_encoding_equals_bsons_exact_one(text):
    value, positive = to_decimal128(text)
    assert value.bid == Decimal128(text).bid
    assert positive == (Decimal(text) > 0)


@pytest.mark.parametrize("text", ["1E-8", "+1", "2.5e3", "1e400", "1_000", ".5", "1.", "-.5", "--1", "1.-2"])
def test_number_forms_outside_the_exchange_grammar_are_refused(text):
    """Decimal reads all of these; the exchange sends none of them (issue 15: `1e400` and `1_000` were stored)."""
    with pytest.raises(ValueError, match="not a plain decimal"):
        to_decimal128(text)


@pytest.mark.parametrize("text", ["", "-", ".", "NaN", "Infinity", "-inf", "1.2.3", " 1", "1 ", "١٢", "0x10", "1" * 35])
def test_text_that_is_not_an_exact_finite_number_is_refused(text):
    with pytest.raises(ValueError, match="not"):
        to_decimal128(text)
