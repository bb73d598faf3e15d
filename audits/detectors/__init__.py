"""Detectors: small stateful checks fed one row at a time from a sorted stream, so no collection is held in memory.

Each detector is fed rows in key order and reports what it found as `FoundGap` (holes for the ledger) or `Finding`
(everything else, for the audit log). They know nothing about MongoDB or the ORM; `audits.scan` feeds them.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FoundGap:
    """A hole: missing grid times (kind `time`) or missing ids (kind `sequence`), bounds inclusive."""

    kind: str
    start: datetime
    end: datetime
    missing_count: int
    first_missing_id: int | None = None
    last_missing_id: int | None = None
    detail: str = ""


@dataclass
class Finding:
    """One audit-log finding; `key` identifies it across runs (it becomes the fingerprint)."""

    audit_type: str
    severity: str
    message: str
    key: str
    details: dict = field(default_factory=dict)
