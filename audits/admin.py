from django.contrib import admin

from catalog.admin import ReadOnlyAdmin

from .models import AuditLog, Gap, HealthMetric


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "dataset", "audit_type", "severity", "message")
    list_filter = ("audit_type", "severity")
    search_fields = ("dataset__dataset_id", "symbol", "message")
    date_hierarchy = "created_at"


@admin.register(HealthMetric)
class HealthMetricAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "dataset",
        "quality_score",
        "completeness",
        "consistency",
        "freshness_seconds",
        "gap_count",
        "duplicate_count",
        "invalid_count",
    )
    search_fields = ("dataset__dataset_id",)
    date_hierarchy = "created_at"


@admin.register(Gap)
class GapAdmin(admin.ModelAdmin):
    list_display = (
        "dataset",
        "kind",
        "start",
        "end",
        "missing_count",
        "status",
        "reason",
        "last_checked",
        "backfill_job",
    )
    list_filter = ("status", "kind", "reason")
    search_fields = ("dataset__dataset_id",)
    readonly_fields = (
        "dataset",
        "kind",
        "start",
        "end",
        "first_missing_id",
        "last_missing_id",
        "missing_count",
        "first_seen",
        "last_checked",
        "backfill_job",
    )
    list_select_related = ("dataset", "backfill_job")
