"""The gap ledger: one `Gap` row per hole, kept up to date across audit runs instead of re-created.

A run reports the holes it found inside the span it examined (its coverage). Each found hole updates the ledger row
with the same identity (time gaps: their start; sequence gaps: their first missing id) or the unresolved row it
overlaps (a gap that partly filled shrinks in place), else a new row is created. An unresolved row inside the
coverage that no longer matches any hole has had its rows arrive: it becomes `filled`. Rows marked `unfillable`
(the exchange has no data) keep that status while the hole persists, so repair does not retry them.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from catalog.models import Dataset

from .detectors import FoundGap
from .models import Gap
from .scan import Coverage

UNRESOLVED = (Gap.Status.OPEN, Gap.Status.BACKFILLING, Gap.Status.UNFILLABLE)


@dataclass
class LedgerChanges:
    created: int = 0
    updated: int = 0
    filled: int = 0

    def __iadd__(self, other: "LedgerChanges") -> "LedgerChanges":
        self.created += other.created
        self.updated += other.updated
        self.filled += other.filled
        return self


def _identity(kind: str, item: FoundGap | Gap) -> object:
    return item.start if kind == Gap.Kind.TIME else item.first_missing_id


def _bounds(kind: str, item: FoundGap | Gap) -> tuple:
    if kind == Gap.Kind.TIME:
        return item.start, item.end
    return item.first_missing_id, item.last_missing_id


def _within(kind: str, gap: Gap, coverage: Coverage) -> bool:
    low, high = _bounds(kind, gap)
    return coverage.low <= low and high <= coverage.high


def _overlaps(kind: str, gap: Gap, found: FoundGap) -> bool:
    low, high = _bounds(kind, gap)
    found_low, found_high = _bounds(kind, found)
    return low <= found_high and found_low <= high


def unresolved_in(*, dataset: Dataset, coverage: Coverage) -> list[Gap]:
    gaps = Gap.objects.filter(dataset=dataset, kind=coverage.kind, status__in=UNRESOLVED)
    if coverage.kind == Gap.Kind.TIME:
        gaps = gaps.filter(start__gte=coverage.low, end__lte=coverage.high)
    else:
        gaps = gaps.filter(first_missing_id__gte=coverage.low, last_missing_id__lte=coverage.high)
    return list(gaps)


@transaction.atomic
def gaps_reconcile(*, dataset: Dataset, found: list[FoundGap], coverage: Coverage | None) -> LedgerChanges:
    """Bring the ledger in line with the holes one scan found inside `coverage`."""
    changes = LedgerChanges()
    kind = coverage.kind if coverage else (found[0].kind if found else Gap.Kind.TIME)
    candidates = unresolved_in(dataset=dataset, coverage=coverage) if coverage else []
    identities = [_identity(kind, item) for item in found]
    lookup = "start__in" if kind == Gap.Kind.TIME else "first_missing_id__in"
    by_identity = {
        _identity(kind, gap): gap for gap in Gap.objects.filter(dataset=dataset, kind=kind, **{lookup: identities})
    }
    matched: set[int] = set()
    for item in found:
        gap = by_identity.get(_identity(kind, item)) or next(
            (gap for gap in candidates if gap.pk not in matched and _overlaps(kind, gap, item)), None
        )
        if gap is None:
            _create(dataset, item)
            changes.created += 1
            continue
        matched.add(gap.pk)
        _update(gap, item)
        changes.updated += 1
    for gap in candidates:
        if gap.pk not in matched:
            gap.status = Gap.Status.FILLED
            gap.save(update_fields=["status", "last_checked"])
            changes.filled += 1
    return changes


def _update(gap: Gap, item: FoundGap) -> None:
    if gap.kind == Gap.Kind.TIME:
        gap.start = item.start
    gap.end = item.end
    gap.first_missing_id, gap.last_missing_id = item.first_missing_id, item.last_missing_id
    gap.missing_count = item.missing_count
    if gap.status == Gap.Status.FILLED:  # rows vanished again
        gap.status = Gap.Status.OPEN
    if item.detail:
        gap.note = item.detail
    gap.save()


def _create(dataset: Dataset, item: FoundGap) -> Gap:
    start = item.start
    if item.kind == Gap.Kind.SEQUENCE:
        # Several breaks can follow rows of the same millisecond; the ids are their identity, so the stored start
        # is moved on by microseconds (stored times are whole milliseconds) to keep (dataset, kind, start) unique.
        taken = set(
            Gap.objects.filter(
                dataset=dataset, kind=item.kind, start__gte=start, start__lt=start + timedelta(milliseconds=1)
            ).values_list("start", flat=True)
        )
        while start in taken:
            start += timedelta(microseconds=1)
    return Gap.objects.create(
        dataset=dataset,
        kind=item.kind,
        start=start,
        end=item.end,
        first_missing_id=item.first_missing_id,
        last_missing_id=item.last_missing_id,
        missing_count=item.missing_count,
        note=item.detail,
    )


def gaps_to_recheck(*, dataset: Dataset, kind: str, coverage: Coverage | None, limit: int) -> list[Gap]:
    """Unresolved gaps this run did not examine, least recently checked first."""
    gaps = Gap.objects.filter(dataset=dataset, kind=kind, status__in=UNRESOLVED).order_by("last_checked", "pk")
    if coverage is None:
        return list(gaps[:limit])
    inside = {gap.pk for gap in unresolved_in(dataset=dataset, coverage=coverage)}
    return [gap for gap in gaps[: limit + len(inside)] if gap.pk not in inside][:limit]
