from django.contrib import admin

from .models import BackfillJob


@admin.register(BackfillJob)
class BackfillJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "symbol",
        "data_type",
        "timeframe",
        "start",
        "end",
        "status",
        "progress",
        "rows_inserted",
        "weight_used",
        "created_at",
    )
    list_filter = ("status", "data_type", "source")
    search_fields = ("symbol", "error")
    readonly_fields = (
        "status",
        "progress",
        "cursor",
        "cursor_id",
        "rows_fetched",
        "rows_inserted",
        "rows_duplicate",
        "requests_made",
        "weight_used",
        "error",
        "requested_by",
        "source",
        "task_id",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )
