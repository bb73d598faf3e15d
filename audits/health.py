"""The health formulas (0-100 each), one place for every component of the score.

- completeness = 100 x present / expected over the audited window, which is the dataset's whole span (first row to
  the window's end): present = expected - rows still missing in the gap ledger (open or backfilling gaps). Slots the
  exchange confirmed it has no data for (unfillable gaps) are not expected. For sequence data (trades, depth) the
  units are ids: expected = last id - first id + 1. Types without a gap rule score 100.
- consistency = 100 x (1 - (invalid + duplicate rows) / rows checked), counted over every row checked since the
  last full audit (each run adds the rows newer than the previous watermark).
- freshness = 100 while the newest row is at most 2 cadences old, falling linearly to 0 at
  AUDIT_FRESHNESS_ZERO_CADENCES cadences (default 20; e.g. 1m candles: 100 up to 2 minutes, 0 at 20 minutes).
- quality = 0.4 completeness + 0.4 consistency + 0.2 freshness (the ecosystem's existing formula).
Bands: healthy >= AUDIT_HEALTHY_SCORE (90), degraded >= AUDIT_DEGRADED_SCORE (70), otherwise unhealthy.
"""

from django.conf import settings

FRESH_CADENCES = 2.0


def completeness(*, expected: int, missing: int) -> float:
    if expected <= 0:
        return 100.0
    return round(100.0 * max(expected - missing, 0) / expected, 4)


def consistency(*, rows: int, invalid: int, duplicates: int) -> float:
    if rows <= 0:
        return 100.0
    return round(max(0.0, 100.0 * (1 - (invalid + duplicates) / rows)), 4)


def freshness(*, age_seconds: float | None, cadence_seconds: float | None) -> float:
    if age_seconds is None:
        return 0.0
    if not cadence_seconds:
        return 100.0
    fresh_until = FRESH_CADENCES * cadence_seconds
    zero_at = max(settings.AUDIT_FRESHNESS_ZERO_CADENCES, FRESH_CADENCES + 1) * cadence_seconds
    if age_seconds <= fresh_until:
        return 100.0
    if age_seconds >= zero_at:
        return 0.0
    return round(100.0 * (zero_at - age_seconds) / (zero_at - fresh_until), 4)


def quality(*, completeness_score: float, consistency_score: float, freshness_score: float) -> float:
    return round(0.4 * completeness_score + 0.4 * consistency_score + 0.2 * freshness_score, 4)


def band(score: float | None) -> str:
    if score is None:
        return "unaudited"
    if score >= settings.AUDIT_HEALTHY_SCORE:
        return "healthy"
    if score >= settings.AUDIT_DEGRADED_SCORE:
        return "degraded"
    return "unhealthy"
