"""Catalog admin: lineage, read-only. The Dataset page is the console's (`console/admin.py`): it composes the
auditor, backfiller and analytics, which sit above the catalog."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from .models import LineageRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Computed records: operators read them, only the service writes them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def can_backfill(request) -> bool:
    return request.user.has_perm("backfills.add_backfilljob")


def job_links(jobs) -> str:
    """Links to jobs, for the messages that report what an action started."""
    return format_html_join(
        ", ", '<a href="{}">#{}</a>', ((reverse("admin:backfills_backfilljob_change", args=[j.pk]), j.pk) for j in jobs)
    )


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
