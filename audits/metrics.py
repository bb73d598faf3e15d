"""Prometheus gauges per dataset: health score, completeness, freshness seconds, open gaps.

Audits run in Celery workers, but /metrics is served by the web process; so the gauges are a collector that reads
the latest audit figures from the database at scrape time (one query each), registered once in the default registry
that django-prometheus serves.
"""

from django.db.models import Count
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

GAUGES = {
    "health_score": ("data_manager_dataset_health_score", "Quality score 0-100 of the latest audit."),
    "completeness": ("data_manager_dataset_completeness_percent", "Rows present / rows expected, percent."),
    "freshness_seconds": ("data_manager_dataset_freshness_seconds", "Age of the newest row at the latest audit."),
    "open_gaps": ("data_manager_dataset_open_gaps", "Gaps open or being backfilled in the ledger."),
}


def _families() -> dict[str, GaugeMetricFamily]:
    return {key: GaugeMetricFamily(name, text, labels=["dataset"]) for key, (name, text) in GAUGES.items()}


class DatasetHealthCollector(Collector):
    def describe(self):
        return list(_families().values())

    def collect(self):
        from catalog.models import Dataset

        from .models import Gap

        families = _families()
        open_gaps = dict(
            Gap.objects.filter(status__in=(Gap.Status.OPEN, Gap.Status.BACKFILLING))
            .values_list("dataset_id")
            .annotate(count=Count("id"))
        )
        for dataset_id, score, snapshot in Dataset.objects.filter(audited_at__isnull=False).values_list(
            "dataset_id", "health_score", "health"
        ):
            snapshot = snapshot or {}
            families["health_score"].add_metric([dataset_id], score or 0.0)
            families["completeness"].add_metric([dataset_id], snapshot.get("completeness") or 0.0)
            if snapshot.get("freshness_seconds") is not None:
                families["freshness_seconds"].add_metric([dataset_id], snapshot["freshness_seconds"])
            families["open_gaps"].add_metric([dataset_id], open_gaps.get(dataset_id, 0))
        yield from families.values()


_collector: DatasetHealthCollector | None = None


def register() -> None:
    """Register the collector once per process (AppConfig.ready may run more than once in tests)."""
    global _collector
    if _collector is None:
        _collector = DatasetHealthCollector()
        REGISTRY.register(_collector)
