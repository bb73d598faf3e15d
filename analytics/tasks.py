"""Celery tasks: thin wrappers around analytics.services."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(name="analytics.tasks.compute_all", ignore_result=True)
def compute_all() -> int:
    """The scheduled run: every series with new data since its latest result. Returns how many were computed."""
    if not settings.ENABLE_ANALYTICS:
        return 0
    return len(services.analytics_compute_all())


@shared_task(name="analytics.tasks.compute_series", ignore_result=True)
def compute_series(symbol: str, interval: str) -> int:
    """On demand (the admin action): one candle series, whether or not it has new data. Returns results stored."""
    return services.analytics_compute(symbol=symbol, interval=interval).results
