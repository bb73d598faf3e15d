from django.db import models


class AuditLog(models.Model):
    """One finding of the auditor."""

    class AuditType(models.TextChoices):
        GAP = "gap", "Gap"
        SEQUENCE_GAP = "sequence_gap", "Sequence gap"
        DUPLICATE = "duplicate", "Duplicate"
        VALIDITY = "validity", "Validity"
        FRESHNESS = "freshness", "Freshness"
        ANOMALY = "anomaly", "Anomaly"
        RECONCILIATION = "reconciliation", "Differs from the exchange's archive"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"
        CRITICAL = "critical", "Critical"

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="audit_logs")
    symbol = models.CharField(max_length=32, db_index=True)
    audit_type = models.CharField(max_length=20, choices=AuditType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    message = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="Identifies the same finding across runs, so a rerun adds no duplicate."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "audit_logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["dataset", "audit_type", "-created_at"]),
            models.Index(fields=["dataset", "fingerprint"]),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.audit_type} ({self.severity})"


class HealthMetric(models.Model):
    """The health of one dataset as measured by one audit run."""

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="health_metrics")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    rows_checked = models.BigIntegerField(default=0)
    expected_rows = models.BigIntegerField(default=0)
    completeness = models.FloatField(help_text="Percent of expected rows present, 0-100.")
    consistency = models.FloatField(help_text="Percent of rows free of validity and duplicate findings, 0-100.")
    freshness_score = models.FloatField(help_text="0-100, falling as the newest row ages past its cadence.")
    freshness_seconds = models.FloatField(null=True, blank=True)
    gap_count = models.IntegerField(default=0)
    duplicate_count = models.IntegerField(default=0)
    invalid_count = models.IntegerField(default=0)
    quality_score = models.FloatField(help_text="0.4 completeness + 0.4 consistency + 0.2 freshness.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "health_metrics"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dataset", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.quality_score:.1f}"


class Gap(models.Model):
    """The gap ledger: one row per hole in a dataset, kept up to date across audit runs."""

    class Kind(models.TextChoices):
        TIME = "time", "Time"
        SEQUENCE = "sequence", "Sequence"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        BACKFILLING = "backfilling", "Backfilling"
        FILLED = "filled", "Filled"
        UNFILLABLE = "unfillable", "Unfillable"

    class Reason(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        EXCHANGE_NO_DATA = "exchange_no_data", "Exchange had no data"
        COLLECTOR_DOWN = "collector_down", "Collector down"
        MAINTENANCE = "maintenance", "Exchange maintenance"
        MANUAL = "manual", "Marked by an operator"

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="gaps")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TIME)
    start = models.DateTimeField(help_text="First missing time (or the time around a sequence break).")
    end = models.DateTimeField(help_text="Last missing time, inclusive.")
    first_missing_id = models.BigIntegerField(null=True, blank=True, help_text="Sequence gaps: first missing id.")
    last_missing_id = models.BigIntegerField(null=True, blank=True, help_text="Sequence gaps: last missing id.")
    missing_count = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.UNKNOWN)
    note = models.TextField(blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_checked = models.DateTimeField(auto_now=True)
    backfill_job = models.ForeignKey(
        "backfills.BackfillJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="gaps"
    )

    class Meta:
        db_table = "gaps"
        ordering = ["-start", "-id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "kind", "start"], name="gap_unique_start")]
        indexes = [models.Index(fields=["dataset", "status"])]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.start:%Y-%m-%d %H:%M} - {self.end:%Y-%m-%d %H:%M} ({self.status})"
