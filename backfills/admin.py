from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from petrosa_dm.market.timeutils import format_duration, utcnow

from . import selectors, services
from .models import BackfillJob

REQUEST_FIELDS = ("symbol", "data_type", "timeframe", "start", "end", "priority", "from_id", "to_id", "data_source")


class BackfillJobAddForm(forms.ModelForm):
    """Adding a job from the admin goes through the same validation as the API and the auditor."""

    class Meta:
        model = BackfillJob
        fields = REQUEST_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["data_source"].required = False  # blank means auto: the cheapest source per range

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                self.job_fields = services.backfill_job_validate(**{name: cleaned.get(name) for name in REQUEST_FIELDS})
            except services.InvalidBackfill as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


@admin.register(BackfillJob)
class BackfillJobAdmin(admin.ModelAdmin):
    # Status and progress first: on a laptop the list must not push them off the page.
    list_display = (
        "id",
        "symbol",
        "data_type",
        "timeframe",
        "status",
        "progress_bar",
        "start",
        "end",
        "rows_inserted",
        "elapsed",
        "remaining",
        "short_error",
        "source",
        "created_at",
    )
    list_filter = ("status", "data_type", "source")
    search_fields = ("symbol", "error")
    ordering = ("-created_at", "-id")
    actions = ("cancel_jobs", "retry_jobs")
    add_form = BackfillJobAddForm
    # A job's page offers Retry and Cancel (posting to the actions above) instead of Save: its fields are read-only.
    change_form_template = "admin/backfills/backfilljob/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "active_statuses": BackfillJob.ACTIVE_STATUSES,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return REQUEST_FIELDS
        # `progress` is shown once, as the bar.
        hidden = {*REQUEST_FIELDS, "progress"}
        extra = []
        if obj.data_type == BackfillJob.DataType.DEPTH:
            # A depth job stores the book as it was when it ran: no cursor walks its window.
            hidden |= {"cursor", "cursor_id"}
            extra = ["depth_snapshot"]
        details = [f.name for f in BackfillJob._meta.fields if f.name not in hidden]
        return [*REQUEST_FIELDS, "progress_bar", *extra, *details]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return  # a job's fields are read-only once created; use the actions
        job = services.backfill_job_create(**form.job_fields, requested_by=request.user, source="admin")
        obj.pk = job.pk
        obj.refresh_from_db()

    @admin.display(description="what it stores")
    def depth_snapshot(self, job: BackfillJob) -> str:
        return (
            "One REST snapshot of the order book as the exchange held it when the job ran (Binance keeps no book "
            "history): start and end record when that was, not the time of the rows. The snapshot's own time and "
            "update id are in the dataset's lineage and in /data/depth/updates."
        )

    @admin.display(description="progress")
    def progress_bar(self, job: BackfillJob) -> str:
        percent = round(job.progress * 100, 1)
        return format_html('<progress value="{}" max="100"></progress> {}%', percent, percent)

    @admin.display(description="elapsed")
    def elapsed(self, job: BackfillJob) -> str:
        seconds = selectors.backfill_job_elapsed_seconds(job=job, now=utcnow())
        return "" if seconds is None else format_duration(seconds)

    @admin.display(description="remaining (est.)")
    def remaining(self, job: BackfillJob) -> str:
        seconds = selectors.backfill_job_remaining_seconds(job=job, now=utcnow())
        return "" if seconds is None else format_duration(seconds)

    @admin.display(description="error")
    def short_error(self, job: BackfillJob) -> str:
        return job.error[:80]

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset) -> None:
        self._apply(request, queryset, services.backfill_job_cancel, "cancelled")

    @admin.action(description="Retry selected jobs (resume from their cursor)", permissions=["change"])
    def retry_jobs(self, request, queryset) -> None:
        self._apply(request, queryset, services.backfill_job_retry, "queued again")

    def _apply(self, request, queryset, action, done: str) -> None:
        changed = 0
        for job in queryset:
            try:
                action(job=job)
                changed += 1
            except services.BackfillStateError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if changed:
            self.message_user(request, f"{changed} job(s) {done}.", messages.SUCCESS)
