from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        from . import metrics, receivers  # noqa: F401  (receivers: gaps follow their backfill jobs)

        metrics.register()
