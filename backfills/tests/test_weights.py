import pytest

from backfills import weights


@pytest.mark.parametrize(
    ("limit", "weight"), [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10)]
)
def test_klines_weight_follows_binance_tiers(limit, weight):
    assert weights.request_weight(weights.KLINES, limit) == weight


@pytest.mark.parametrize(("limit", "weight"), [(5, 2), (50, 2), (100, 5), (500, 10), (1000, 20)])
def test_depth_weight_follows_binance_tiers(limit, weight):
    assert weights.request_weight(weights.DEPTH, limit) == weight


def test_limit_above_the_endpoint_maximum_is_refused():
    with pytest.raises(ValueError, match="maximum 1500"):
        weights.request_weight(weights.KLINES, 1501)


@pytest.mark.parametrize(
    ("rows", "limit"),
    [
        (43_200, 499),  # long ranges: 499 rows for weight 2 is the cheapest per row
        (1_000, 1_000),  # one page for 5 vs 499 + 499 + 2 rows for 2 + 2 + 1: a tie goes to fewer requests
        (600, 499),  # 2 pages of weight 2 (4) beat one page of 600 for weight 5
        (286, 286),  # the smallest sufficient limit
        (99, 99),
        (40, 40),
    ],
)
def test_page_limit_is_the_weight_cheapest(rows, limit):
    assert weights.page_limit(weights.KLINES, rows) == limit


def test_trades_and_funding_pages_are_full_pages():
    assert weights.page_limit(weights.AGG_TRADES, 50_000) == 1000
    assert weights.page_limit(weights.FUNDING_RATE, 5_000) == 1000


def test_cheapest_rows_per_weight_of_klines_is_a_499_page():
    assert weights.cheapest_rows_per_weight(weights.KLINES) == pytest.approx(499 / 2)
