"""The Dataset page of the console: the catalog's datasets with their health, pictures and repair controls.

It lives here, not in the catalog, because it composes the apps above the catalog (auditor, backfiller, analytics).
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.cache import caches
from django.utils.html import format_html

from audits.health import band
from audits.repair import gaps_repair, repair_option
from catalog.admin import can_backfill, job_links
from catalog.models import Dataset
from petrosa_dm.market.naming import parse_collection
from petrosa_dm.market.timeutils import utcnow

from .dataset_page import dataset_console


def _queue_once(key: str) -> bool:
    """True the first time `key` is asked for within ADMIN_ACTION_REQUEUE_SECONDS (the caller then queues it);
    False while that work is taken as already queued."""
    return caches["locks"].add(f"admin-action:{key}", 1, timeout=settings.ADMIN_ACTION_REQUEUE_SECONDS)


def _queued_message(what: str, queued: int, selected: int) -> str:
    skipped = selected - queued
    text = f"{what} queued for {queued} dataset(s)."
    return text + (f" {skipped} already queued, skipped." if skipped else "")


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
        "health_badge",
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
    actions = ["audit_now", "backfill_open_gaps", "recompute_analytics", "sync_catalog"]
    change_form_template = "admin/catalog/dataset/change_form.html"

    @admin.display(description="health", ordering="health_score")
    def health_badge(self, dataset: Dataset) -> str:
        if dataset.health_score is None:
            return "not audited"
        label = band(dataset.health_score)
        return format_html('<span class="dm-{}">{} ({})</span>', label, f"{dataset.health_score:.1f}", label)

    def has_backfill_permission(self, request) -> bool:
        return can_backfill(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Admin links quote the primary key (`_` becomes `_5F`): unquote as the admin's own views do.
        dataset = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if dataset is not None:
            context["console"] = dataset_console(dataset=dataset, now=utcnow())
            context["can_backfill"] = can_backfill(request)
        return super().change_view(request, object_id, form_url, extra_context=context)

    # Actions that queue work need the change permission (a view-only user could queue tasks without end), and
    # work already queued is not queued again (issue 15, finding 10).

    @admin.action(description="Audit now", permissions=["change"])
    def audit_now(self, request, queryset) -> None:
        from audits.tasks import audit_dataset

        queued = [dataset for dataset in queryset if _queue_once(f"audit:{dataset.pk}")]
        for dataset in queued:
            audit_dataset.delay(dataset.pk)
        self.message_user(request, _queued_message("Audit", len(queued), queryset.count()), messages.SUCCESS)

    @admin.action(description="Backfill open gaps", permissions=["backfill"])
    def backfill_open_gaps(self, request, queryset) -> None:
        jobs, reasons = [], []
        for dataset in queryset:
            ref = parse_collection(dataset.dataset_id)
            option = repair_option(dataset=dataset, ref=ref)
            if option.action != "backfill_open_gaps":
                reasons.append(f"{dataset.dataset_id}: {option.why}")
                continue
            jobs += gaps_repair(dataset=dataset, ref=ref, limit=100, source="admin", requested_by=request.user)
        if jobs:
            self.message_user(
                request, format_html("Started {} backfill job(s): {}", len(jobs), job_links(jobs)), messages.SUCCESS
            )
        for reason in reasons:
            self.message_user(request, f"No backfill started for {reason}", messages.WARNING)
        if not jobs and not reasons:
            self.message_user(request, "No open gaps that a backfill can fill without a running job.", messages.WARNING)

    @admin.action(description="Recompute analytics", permissions=["change"])
    def recompute_analytics(self, request, queryset) -> None:
        from analytics.tasks import compute_series

        candles = [d for d in queryset if d.data_type == "candles"]
        queued = [dataset for dataset in candles if _queue_once(f"analytics:{dataset.pk}")]
        for dataset in queued:
            compute_series.delay(dataset.symbol, dataset.timeframe)
        level = messages.SUCCESS if candles else messages.WARNING
        self.message_user(request, _queued_message("Analytics", len(queued), len(candles)), level)

    @admin.action(description="Sync catalog with MongoDB", permissions=["change"])
    def sync_catalog(self, request, queryset) -> None:
        from catalog.tasks import sync_catalog

        if _queue_once("sync_catalog"):
            sync_catalog.delay()
            self.message_user(request, "Catalog sync queued.", messages.SUCCESS)
        else:
            self.message_user(request, "A catalog sync is already queued.", messages.WARNING)
