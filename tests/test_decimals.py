"""The service's Decimal128 decoding (petrosa_dm.decimals) against pymongo's own, through the real BSON decoder."""

import random
import threading
from decimal import Decimal

import bson
import pytest
from bson.decimal128 import Decimal128

from ingestion.api.rows import decimal_text
from petrosa_dm import decimals


def _random_texts(count: int) -> list[str]:
    generator = random.Random(16)
    texts = []
    for _ in range(count):
        whole = str(generator.randrange(0, 10 ** generator.randrange(1, 20)))
        fraction = "".join(generator.choice("0123456789") for _ in range(generator.randrange(0, 14)))
        sign = generator.choice(("", "-"))
        texts.append(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")
    return texts


TEXTS = [*decimals.SAMPLES, "Infinity", "-NaN", "1E-6176", "9.999999999999999999999999999999999E+6144"]
TEXTS += _random_texts(500)


def _decoded(texts: list[str]) -> list[Decimal128]:
    document = bson.encode({"values": [Decimal128(text) for text in texts]})
    return bson.decode(document)["values"]


def test_the_core_app_installed_it():
    assert Decimal128.from_bid.__func__ is decimals._from_bid


def test_decoded_values_equal_the_librarys_bit_for_bit():
    assert decimals.install()
    ours = _decoded(TEXTS)
    with decimals.library_decoding():
        assert Decimal128.from_bid.__func__ is not decimals._from_bid
        theirs = _decoded(TEXTS)
    assert Decimal128.from_bid.__func__ is decimals._from_bid  # restored after the block
    assert [value.bid for value in ours] == [value.bid for value in theirs]
    assert [str(value) for value in ours] == [str(value) for value in theirs]
    finite = [index for index, value in enumerate(theirs) if value.to_decimal().is_finite()]
    assert [ours[index].to_decimal() for index in finite] == [theirs[index].to_decimal() for index in finite]
    assert all(type(value) is Decimal128 for value in ours)


@pytest.mark.parametrize("value", [b"short", bytearray(16), "x" * 16, None])
def test_anything_but_16_bytes_gets_the_librarys_own_answer(value):
    try:
        with decimals.library_decoding():
            library = Decimal128.from_bid(value)
    except Exception as error:  # the library's error, unchanged
        with pytest.raises(type(error)):
            Decimal128.from_bid(value)
    else:
        assert Decimal128.from_bid(value).bid == library.bid


def test_a_library_of_another_shape_keeps_its_own_decoding(monkeypatch):
    with decimals.library_decoding():
        monkeypatch.setattr(decimals, "_agrees", lambda: False)
        assert decimals.install() is False
        assert Decimal128.from_bid.__func__ is not decimals._from_bid
    assert Decimal128.from_bid.__func__ is decimals._from_bid  # the block put the installed one back


def test_the_check_notices_a_decoder_that_builds_other_values(monkeypatch):
    monkeypatch.setattr(decimals, "_HALVES", type(decimals._HALVES)(">QQ"))  # the halves swapped: wrong values
    assert decimals._agrees() is False


def test_within_decimal_texts_plain_values_decode_to_their_text():
    with decimals.library_decoding():
        library = _decoded(TEXTS)
    with decimals.decimal_texts():
        texts = _decoded(TEXTS)
    for value, text in zip(library, texts, strict=True):
        if value.to_decimal().is_finite() and value.to_decimal().as_tuple().exponent <= 0:
            assert text == decimal_text(value) and type(text) is str
            assert Decimal(text) == value.to_decimal()
        else:  # NaN, infinities and positive exponents stay objects (plain notation does not hold them as stored)
            assert type(text) is Decimal128 and text.bid == value.bid
    assert "0.00000000" in _texts_of(["0.00000000"]) and "-0.001" in _texts_of(["-0.001"])
    assert all(type(value) is Decimal128 for value in _decoded(TEXTS))  # and objects again after the block


def test_decimal_texts_is_per_thread():
    seen = []
    inside, done = threading.Event(), threading.Event()

    def other_thread():
        inside.wait(10)
        seen.extend(_decoded(["61800.20"]))
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with decimals.decimal_texts():
        inside.set()
        done.wait(10)
        assert _decoded(["61800.20"]) == ["61800.20"]
    worker.join(10)
    assert [type(value) for value in seen] == [Decimal128]


def _texts_of(texts: list[str]) -> list:
    with decimals.decimal_texts():
        return _decoded(texts)
