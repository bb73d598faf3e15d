"""Liquidity of one real order book (pure): what a taker sees at the top and what a given size would cost.

- best bid and ask, mid = (bid + ask) / 2, spread and spread in bps of the mid;
- depth within +/-0.1 % and +/-1 % of the mid, per side, in base quantity and quote notional;
- slippage to fill `notional` (quote) at market: walk the asks (buy) or bids (sell) level by level; the slippage is
  the fill's volume-weighted price against the mid in bps (positive = worse than mid). `None` when the book we hold
  is not deep enough to fill it (a REST snapshot holds 1,000 levels; a partial frame 5-20).

Input levels are best first ([price, quantity] strings, as `books.reconstruct.Book.levels` gives them).
"""

BANDS = {"0.1pct": 0.001, "1pct": 0.01}


def _levels(levels: list) -> list[tuple[float, float]]:
    return [(float(price), float(qty)) for price, qty in levels]


def _depth(levels: list[tuple[float, float]], mid: float, fraction: float, buy_side: bool) -> tuple[float, float]:
    quantity = notional = 0.0
    for price, qty in levels:
        if (mid - price if buy_side else price - mid) > mid * fraction:
            break
        quantity += qty
        notional += price * qty
    return quantity, notional


def slippage_bps(levels: list[tuple[float, float]], mid: float, notional: float, *, buying: bool) -> float | None:
    remaining, cost, filled = notional, 0.0, 0.0
    for price, qty in levels:
        take = min(qty, remaining / price)
        cost += take * price
        filled += take
        remaining -= take * price
        if remaining <= 1e-9 * notional:
            average = cost / filled
            return (average - mid) / mid * 10_000 if buying else (mid - average) / mid * 10_000
    return None


def book_liquidity(bids: list, asks: list, *, notional: float) -> dict:
    bid_levels, ask_levels = _levels(bids), _levels(asks)
    if not bid_levels or not ask_levels or bid_levels[0][0] >= ask_levels[0][0]:
        return {"best_bid": None, "best_ask": None, "mid": None, "spread_bps": None}
    best_bid, best_ask = bid_levels[0][0], ask_levels[0][0]
    mid = (best_bid + best_ask) / 2
    values = {
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": mid,
        "spread": best_ask - best_bid,
        "spread_bps": (best_ask - best_bid) / mid * 10_000,
        "slippage_notional": notional,
        "slippage_buy_bps": slippage_bps(ask_levels, mid, notional, buying=True),
        "slippage_sell_bps": slippage_bps(bid_levels, mid, notional, buying=False),
    }
    for name, fraction in BANDS.items():
        values[f"bid_depth_{name}"], values[f"bid_notional_{name}"] = _depth(bid_levels, mid, fraction, True)
        values[f"ask_depth_{name}"], values[f"ask_notional_{name}"] = _depth(ask_levels, mid, fraction, False)
    return values
