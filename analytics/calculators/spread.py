"""Spread and depth from order books.

A book is two arrays of [price, quantity] levels (bids and asks, any order). Top of book is the highest bid and
the lowest ask with a positive quantity. Spread = ask - bid; relative spread = spread / mid * 10,000 (bps);
mid = (bid + ask) / 2. Depth within a band: the quantity and notional (price * quantity) of the levels priced
within `band_bps` of the mid, per side. A crossed or one-sided book yields no spread.

Which book: the real one, rebuilt by `books` from stored snapshots, checkpoints and diffs
(`analytics.selectors.depth_books_by_bar`); bars where it is unknown (a break in the depth stream) have no book
and make the window unreliable. `replay_diffs` (levels touched by a run of diffs) is kept for callers that only
have diffs and know the result is partial.
"""

import numpy as np
import pandas as pd

DEFAULT_BAND_BPS = 10.0


def as_levels(levels) -> np.ndarray:
    """[[price, quantity], ...] (strings or numbers) as a float array of shape (n, 2), empty levels dropped."""
    array = np.asarray(levels, dtype=float).reshape(-1, 2)
    return array[array[:, 1] > 0]


def book_metrics(bids, asks, band_bps: float = DEFAULT_BAND_BPS) -> dict:
    bid_levels, ask_levels = as_levels(bids), as_levels(asks)
    if not len(bid_levels) or not len(ask_levels):
        return _empty_book()
    best_bid, best_ask = float(bid_levels[:, 0].max()), float(ask_levels[:, 0].min())
    if best_bid >= best_ask:
        return _empty_book() | {"best_bid": best_bid, "best_ask": best_ask, "crossed": True}
    mid = (best_bid + best_ask) / 2.0
    band = mid * band_bps / 10_000.0
    near_bids = bid_levels[bid_levels[:, 0] >= mid - band]
    near_asks = ask_levels[ask_levels[:, 0] <= mid + band]
    return {
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": mid,
        "spread": best_ask - best_bid,
        "spread_bps": (best_ask - best_bid) / mid * 10_000.0,
        "bid_depth": float(near_bids[:, 1].sum()),
        "ask_depth": float(near_asks[:, 1].sum()),
        "bid_depth_notional": float((near_bids[:, 0] * near_bids[:, 1]).sum()),
        "ask_depth_notional": float((near_asks[:, 0] * near_asks[:, 1]).sum()),
        "crossed": False,
    }


def _empty_book() -> dict:
    keys = ("best_bid", "best_ask", "mid", "spread", "spread_bps", "bid_depth", "ask_depth")
    return dict.fromkeys((*keys, "bid_depth_notional", "ask_depth_notional"), None) | {"crossed": False}


def replay_diffs(updates: list[dict]) -> tuple[list, list]:
    """The levels a run of diff updates leaves: the latest quantity per price, zero quantities removed."""
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for update in updates:
        bids.update((price, quantity) for price, quantity in update.get("bids", []))
        asks.update((price, quantity) for price, quantity in update.get("asks", []))
    return _levels(bids), _levels(asks)


def _levels(side: dict[str, str]) -> list:
    return [[float(price), float(quantity)] for price, quantity in side.items() if float(quantity) > 0]


def spread_frame(books: pd.Series, band_bps: float = DEFAULT_BAND_BPS) -> pd.DataFrame:
    """One row of book metrics per bar; `books` holds (bids, asks) per bar, or NaN where the bar has no book."""
    rows = {}
    for open_time, book in books.items():
        rows[open_time] = book_metrics(*book, band_bps=band_bps) if isinstance(book, tuple) else _empty_book()
    return pd.DataFrame.from_dict(rows, orient="index").reindex(books.index)
