from django.apps import AppConfig


class BackfillsConfig(AppConfig):
    name = "backfills"
    verbose_name = "Backfills"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (connects the receiver that enqueues ready jobs)
