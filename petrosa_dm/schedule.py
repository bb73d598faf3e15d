"""The periodic-task schedule, installed into django-celery-beat's tables by `manage.py install_schedule`."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    task: str
    every_seconds: int
    enabled: bool


def schedule() -> list[ScheduledTask]:
    return [
        ScheduledTask("audit all datasets", "audits.tasks.audit_all", settings.AUDIT_INTERVAL, settings.ENABLE_AUDITOR),
        ScheduledTask(
            "compute analytics", "analytics.tasks.compute_all", settings.ANALYTICS_INTERVAL, settings.ENABLE_ANALYTICS
        ),
        ScheduledTask("sync catalog", "catalog.tasks.sync_catalog", settings.CATALOG_SYNC_INTERVAL, True),
        ScheduledTask("resume stale backfills", "backfills.tasks.resume_stale_jobs", 60, settings.ENABLE_BACKFILLER),
        ScheduledTask(
            "refresh exchange symbols",
            "ingestion.tasks.refresh_exchange_symbols",
            settings.SYMBOLS_REFRESH_INTERVAL,
            True,
        ),
    ]
