from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html

from catalog.admin import ReadOnlyAdmin, can_backfill, job_links
from catalog.models import Dataset
from petrosa_dm.market.naming import parse_collection
from petrosa_dm.market.timeutils import format_duration

from .models import AuditLog, Gap, HealthMetric
from .repair import gaps_repair
from .services import gaps_mark_unfillable


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
        "quality",
        "completeness_percent",
        "consistency_percent",
        "newest_row_age",
        "gap_count",
        "duplicate_count",
        "invalid_count",
    )
    search_fields = ("dataset__dataset_id",)
    date_hierarchy = "created_at"

    @admin.display(description="quality score (0-100)", ordering="quality_score")
    def quality(self, metric: HealthMetric) -> str:
        return f"{metric.quality_score:.1f}"

    @admin.display(description="completeness", ordering="completeness")
    def completeness_percent(self, metric: HealthMetric) -> str:
        return f"{metric.completeness:.2f} %"

    @admin.display(description="consistency", ordering="consistency")
    def consistency_percent(self, metric: HealthMetric) -> str:
        return f"{metric.consistency:.2f} %"

    @admin.display(description="newest row", ordering="freshness_seconds")
    def newest_row_age(self, metric: HealthMetric) -> str:
        return "no rows" if metric.freshness_seconds is None else f"{format_duration(metric.freshness_seconds)} old"


@admin.register(Gap)
class GapAdmin(admin.ModelAdmin):
    # Status and reason first: on a laptop the list must not push them off the page.
    list_display = (
        "dataset",
        "kind",
        "status",
        "reason",
        "start",
        "end",
        "missing_count",
        "backfill_job",
        "last_checked",
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
    actions = ("backfill_selected", "mark_unfillable")

    def has_backfill_permission(self, request) -> bool:
        return can_backfill(request)

    @admin.action(description="Backfill selected gaps", permissions=["backfill"])
    def backfill_selected(self, request, queryset) -> None:
        jobs = []
        for dataset_id in sorted(set(queryset.values_list("dataset_id", flat=True))):
            dataset = Dataset.objects.get(pk=dataset_id)
            ref = parse_collection(dataset_id)
            if ref is None:
                continue
            gap_ids = list(queryset.filter(dataset_id=dataset_id).values_list("pk", flat=True))
            jobs += gaps_repair(
                dataset=dataset, ref=ref, limit=len(gap_ids), gap_ids=gap_ids, source="admin", requested_by=request.user
            )
        if jobs:
            self.message_user(
                request, format_html("Started {} backfill job(s): {}", len(jobs), job_links(jobs)), messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                "Nothing to start: only open candle, funding or trade-id gaps without a running job can be backfilled.",
                messages.WARNING,
            )

    @admin.action(description="Mark selected gaps unfillable (with a note)", permissions=["change"])
    def mark_unfillable(self, request, queryset):
        if "apply" in request.POST:
            note = request.POST.get("note", "").strip()
            if note:
                count = gaps_mark_unfillable(gaps=queryset, note=note, user=request.user)
                self.message_user(request, f"{count} gap(s) marked unfillable.", messages.SUCCESS)
                return None
            self.message_user(request, "A note is required: say why these gaps cannot be filled.", messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "gaps": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": "Mark gaps unfillable",
        }
        return TemplateResponse(request, "admin/audits/gap/mark_unfillable.html", context)
