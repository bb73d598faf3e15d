from django.db import models


class Dataset(models.Model):
    """One time-series collection in MongoDB; its id is the collection name (e.g. `candles_BTCUSDT_1h`)."""

    class Category(models.TextChoices):
        MARKET_DATA = "market_data", "Market data"
        ANALYTICS = "analytics", "Analytics"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        VANISHED = "vanished", "Vanished"

    dataset_id = models.CharField(primary_key=True, max_length=128)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.MARKET_DATA)
    data_type = models.CharField(max_length=32, db_index=True)
    symbol = models.CharField(max_length=32, db_index=True)
    timeframe = models.CharField(max_length=16, blank=True)
    storage_type = models.CharField(max_length=32, default="mongodb")
    record_count = models.BigIntegerField(default=0)
    first_timestamp = models.DateTimeField(null=True, blank=True)
    last_timestamp = models.DateTimeField(null=True, blank=True)
    schema = models.JSONField(default=dict, blank=True, help_text="Inferred fields and their types.")
    expected_cadence_seconds = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    health_score = models.FloatField(null=True, blank=True)
    health = models.JSONField(default=dict, blank=True, help_text="Snapshot of the latest audit figures.")
    audit_watermark = models.DateTimeField(null=True, blank=True, help_text="Newest row time the auditor has read.")
    audited_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "datasets"
        ordering = ["dataset_id"]
        indexes = [models.Index(fields=["category", "data_type", "symbol"])]

    def __str__(self) -> str:
        return self.dataset_id


class LineageRecord(models.Model):
    """What produced (part of) a dataset: a NATS subject, a REST endpoint or another dataset."""

    class SourceType(models.TextChoices):
        NATS_SUBJECT = "nats_subject", "NATS subject"
        REST_ENDPOINT = "rest_endpoint", "REST endpoint"
        DATASET = "dataset", "Dataset"
        ARCHIVE_FILE = "archive_file", "Archive file"

    class Transformation(models.TextChoices):
        INGEST = "ingest", "Ingest"
        BACKFILL = "backfill", "Backfill"
        COMPUTE = "compute", "Compute"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="lineage")
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    source = models.CharField(max_length=255, help_text="Subject, endpoint or input dataset id.")
    input_dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="downstream"
    )
    transformation = models.CharField(max_length=16, choices=Transformation.choices)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    record_count = models.BigIntegerField(default=0)
    job = models.ForeignKey(
        "backfills.BackfillJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="lineage"
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "lineage_records"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dataset", "transformation"])]

    def __str__(self) -> str:
        return f"{self.source} -> {self.dataset_id} ({self.transformation})"
