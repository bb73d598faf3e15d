from django.conf import settings
from django.db import models


class BackfillJob(models.Model):
    """A repair of one series over a time range from the Binance REST API; resumable from its cursor."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class DataType(models.TextChoices):
        CANDLES = "candles", "Candles"
        FUNDING_RATES = "funding_rates", "Funding rates"
        TRADES = "trades", "Aggregated trades"
        DEPTH = "depth", "Depth snapshot"
        RAW_TRADES = "raw_trades", "Trades (raw ids, archives only)"
        BOOK_TICKERS = "book_tickers", "Book tickers (archives only)"

    class DataSource(models.TextChoices):
        AUTO = "auto", "Cheapest: archives where published, REST for the rest"
        ARCHIVE = "archive", "Archives only"
        REST = "rest", "REST only"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)

    symbol = models.CharField(max_length=32, db_index=True)
    data_type = models.CharField(max_length=16, choices=DataType.choices)
    timeframe = models.CharField(max_length=8, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    priority = models.PositiveSmallIntegerField(default=5, help_text="0 (highest) to 9.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.FloatField(default=0.0, help_text="Fraction of the range done, 0-1.")
    cursor = models.DateTimeField(null=True, blank=True, help_text="Everything before this time is stored.")
    cursor_id = models.BigIntegerField(null=True, blank=True, help_text="Next trade id, for id-range jobs.")
    from_id = models.BigIntegerField(null=True, blank=True, help_text="Id-range jobs: first aggregate trade id.")
    to_id = models.BigIntegerField(null=True, blank=True, help_text="Id-range jobs: last aggregate trade id.")
    data_source = models.CharField(
        max_length=8, choices=DataSource.choices, default=DataSource.AUTO, help_text="Where rows come from."
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="parts", help_text="Per-file part of."
    )
    archive_cursor = models.JSONField(
        default=dict, blank=True, help_text="Archive resume point: the plan, files done, current file and row."
    )
    archive_files = models.JSONField(
        default=list, blank=True, help_text="Archive files used or rejected: url, checksum, rows, outcome."
    )
    rows_fetched = models.BigIntegerField(default=0)
    rows_inserted = models.BigIntegerField(default=0)
    rows_duplicate = models.BigIntegerField(default=0)
    requests_made = models.IntegerField(default=0)
    weight_used = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="backfill_jobs"
    )
    source = models.CharField(max_length=20, default="api", help_text="api, admin, command or auditor.")
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last page saved; stale running jobs resume.")

    class Meta:
        db_table = "backfill_jobs"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "priority", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.data_type} {self.symbol} {self.timeframe} ({self.status})".replace("  ", " ")
