"""Writing findings to the audit log, each at most once: a rerun that finds the same thing adds nothing."""

import hashlib

from catalog.models import Dataset

from .detectors import Finding, FoundGap
from .models import AuditLog

CHUNK = 500


def fingerprint(finding: Finding) -> str:
    return hashlib.sha256(f"{finding.audit_type}|{finding.key}".encode()).hexdigest()


def gap_finding(gap: FoundGap, what: str) -> Finding:
    """The audit-log entry announcing a hole (its identity is the hole's start or first missing id)."""
    if gap.kind == "sequence":
        return Finding(
            audit_type="sequence_gap",
            severity="error",
            message=f"{gap.missing_count} {what} missing: ids {gap.first_missing_id}..{gap.last_missing_id}"[:500],
            key=f"gap:sequence:{gap.first_missing_id}",
            details={
                "first_missing_id": gap.first_missing_id,
                "last_missing_id": gap.last_missing_id,
                "missing_count": gap.missing_count,
                "after": gap.start.isoformat(),
                "before": gap.end.isoformat(),
                "note": gap.detail,
            },
        )
    return Finding(
        audit_type="gap",
        severity="warning",
        message=f"{gap.missing_count} {what} missing from {gap.start.isoformat()} to {gap.end.isoformat()}",
        key=f"gap:time:{gap.start.isoformat()}",
        details={"start": gap.start.isoformat(), "end": gap.end.isoformat(), "missing_count": gap.missing_count},
    )


def findings_record(*, dataset: Dataset, findings: list[Finding]) -> int:
    """Store the findings not already in the log for this dataset; returns how many were new."""
    unique = {fingerprint(finding): finding for finding in findings}
    prints = list(unique)
    known: set[str] = set()
    for offset in range(0, len(prints), CHUNK):
        chunk = prints[offset : offset + CHUNK]
        known.update(
            AuditLog.objects.filter(dataset=dataset, fingerprint__in=chunk).values_list("fingerprint", flat=True)
        )
    fresh = [
        AuditLog(
            dataset=dataset,
            symbol=dataset.symbol,
            audit_type=finding.audit_type,
            severity=finding.severity,
            message=finding.message[:500],
            details=finding.details,
            fingerprint=print_,
        )
        for print_, finding in unique.items()
        if print_ not in known
    ]
    AuditLog.objects.bulk_create(fresh, batch_size=CHUNK)
    return len(fresh)
