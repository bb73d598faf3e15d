"""Pure, vectorised calculators: each takes a DataFrame (or Series) and returns numbers, no I/O.

Candle frames are indexed by `open_time` (UTC) and carry float columns `open`, `high`, `low`, `close`, `volume`,
`taker_buy_volume`. Callers reindex them on the interval grid first (`analytics.frames`), so a missing candle is a
row of NaN: a return that would span the hole is NaN and is skipped, never computed as if the series were continuous.
"""
