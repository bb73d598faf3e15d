"""Binance USD-M request weights: the one place that knows what a REST request costs and which page size is cheapest.

Weights follow Binance's documentation for `/fapi/v1/*`: klines cost 1, 2, 5 or 10 by `limit`; aggTrades cost 20 at
any limit; depth costs 2 to 20 by `limit`. fundingRate is not charged against the per-minute weight (it has its own
500 requests per 5 minutes per IP, shared with fundingInfo); we count it as 1 so our own budget stays conservative.
"""

import math
from dataclasses import dataclass

KLINES = "/fapi/v1/klines"
FUNDING_RATE = "/fapi/v1/fundingRate"
AGG_TRADES = "/fapi/v1/aggTrades"
DEPTH = "/fapi/v1/depth"
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"


@dataclass(frozen=True)
class Tier:
    """Requests with `limit` up to `max_limit` (and above the previous tier) cost `weight`."""

    max_limit: int
    weight: int


TIERS: dict[str, tuple[Tier, ...]] = {
    KLINES: (Tier(99, 1), Tier(499, 2), Tier(1000, 5), Tier(1500, 10)),
    FUNDING_RATE: (Tier(1000, 1),),
    AGG_TRADES: (Tier(1000, 20),),
    DEPTH: (Tier(50, 2), Tier(100, 5), Tier(500, 10), Tier(1000, 20)),
    EXCHANGE_INFO: (Tier(1, 1),),  # no limit parameter: one request, weight 1
}
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def max_limit(endpoint: str) -> int:
    return TIERS[endpoint][-1].max_limit


def request_weight(endpoint: str, limit: int) -> int:
    """The weight Binance charges for one request to `endpoint` with `limit`."""
    for tier in TIERS[endpoint]:
        if limit <= tier.max_limit:
            return tier.weight
    raise ValueError(f"limit {limit} is above the maximum {max_limit(endpoint)} of {endpoint}")


def page_limit(endpoint: str, rows_wanted: int) -> int:
    """The page size that fetches `rows_wanted` rows for the least total weight (on a tie, in the fewest requests).

    For a long klines range that is 499 rows for weight 2 (0.004 per row), cheaper per row than 1,000 for 5 or
    1,500 for 10; a short range gets the smallest sufficient limit (50 candles: limit 50, weight 1).
    """
    rows_wanted = max(1, rows_wanted)

    def cost(tier: Tier) -> tuple[int, int]:
        pages = math.ceil(rows_wanted / tier.max_limit)
        return pages * tier.weight, pages

    best = min(TIERS[endpoint], key=cost)
    return min(rows_wanted, best.max_limit)


def cheapest_rows_per_weight(endpoint: str) -> float:
    """Rows per unit of weight at the cheapest full page: the ceiling on throughput under a weight budget."""
    return max(tier.max_limit / tier.weight for tier in TIERS[endpoint])
