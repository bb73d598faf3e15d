"""The Celery application: backfills, audits, analytics and catalog sync run on it."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")

app = Celery("petrosa_dm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _trace_worker_process(**_kwargs) -> None:
    # Each prefork child sets up its own exporter thread: threads do not survive fork.
    from .tracing import setup_tracing

    setup_tracing("worker")
