"""Coverage of a result's window: rows present, rows expected on the grid, the fraction, and the gaps inside.

Gaps are the runs of missing open times on the grid (the truth about what the computation read). Where the
auditor's gap ledger (audits.Gap) has a time gap overlapping a run, the run carries that ledger entry's id, status
and reason (`source: ledger`); otherwise it is reported from the grid alone (`source: grid`). A result whose
fraction is below ANALYTICS_MIN_COVERAGE is flagged `reliable: false`.
"""

from datetime import datetime

import numpy as np
import pandas as pd
from django.conf import settings

from audits.models import Gap
from petrosa_dm.market.intervals import grid_count, next_open_time

MAX_LISTED_GAPS = 50  # a window full of holes lists the first 50; `gap_count` still counts all of them


def missing_runs(present: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """(first missing open time, last missing open time, count) for each run of False in `present`."""
    missing = ~present.to_numpy(dtype=bool)
    if not missing.any():
        return []
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    index = present.index
    return [(index[a], index[b - 1], int(b - a)) for a, b in zip(starts, stops, strict=True)]


def _ledger_gaps(dataset_id: str, start: datetime, end: datetime) -> list[Gap]:
    return list(
        Gap.objects.filter(dataset_id=dataset_id, kind=Gap.Kind.TIME, start__lt=end, end__gte=start).order_by("start")
    )


def _describe(run, ledger: list[Gap]) -> dict:
    first, last, count = run
    first, last = first.to_pydatetime(), last.to_pydatetime()
    gap = {"start": first, "end": last, "missing": count, "source": "grid"}
    for entry in ledger:
        if entry.start <= last and entry.end >= first:
            gap.update(source="ledger", gap_id=entry.pk, status=entry.status, reason=entry.reason)
            break
    return gap


def coverage_measure(*, dataset_id: str, interval: str, present: pd.Series, threshold: float | None = None) -> dict:
    """Coverage of the window `present` spans (a boolean per grid open time)."""
    threshold = settings.ANALYTICS_MIN_COVERAGE if threshold is None else threshold
    start = present.index[0].to_pydatetime()
    end = next_open_time(present.index[-1].to_pydatetime(), interval)
    expected = grid_count(start, end, interval)
    rows = int(present.sum())
    fraction = rows / expected if expected else 0.0
    runs = missing_runs(present)
    ledger = _ledger_gaps(dataset_id, start, end) if runs else []
    return {
        "start": start,
        "end": end,
        "rows_present": rows,
        "rows_expected": expected,
        "fraction": round(fraction, 6),
        "threshold": threshold,
        "gap_count": len(runs),
        "gaps": [_describe(run, ledger) for run in runs[:MAX_LISTED_GAPS]],
        "reliable": fraction >= threshold,
    }
