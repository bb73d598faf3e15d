from django.contrib import admin, messages

from .models import Dataset, LineageRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Computed records: operators read them, only the service writes them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = (
        "dataset_id",
        "category",
        "data_type",
        "symbol",
        "timeframe",
        "record_count",
        "last_timestamp",
        "health_score",
        "status",
    )
    list_filter = ("category", "data_type", "status", "timeframe")
    search_fields = ("dataset_id", "symbol", "name")
    readonly_fields = (
        "record_count",
        "first_timestamp",
        "last_timestamp",
        "schema",
        "health_score",
        "health",
        "audit_watermark",
        "audited_at",
        "synced_at",
        "created_at",
        "updated_at",
    )
    actions = ["audit_now"]

    @admin.action(description="Audit now", permissions=["view"])
    def audit_now(self, request, queryset) -> None:
        from audits.tasks import audit_dataset

        for dataset in queryset:
            audit_dataset.delay(dataset.pk)
        self.message_user(request, f"Audit queued for {queryset.count()} datasets.", messages.SUCCESS)


@admin.register(LineageRecord)
class LineageRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "dataset",
        "transformation",
        "source_type",
        "source",
        "record_count",
        "start_time",
        "end_time",
        "created_at",
    )
    list_filter = ("transformation", "source_type")
    search_fields = ("dataset__dataset_id", "source")
    list_select_related = ("dataset",)
