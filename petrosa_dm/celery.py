"""The Celery application: backfills, audits, analytics and catalog sync run on it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")

app = Celery("petrosa_dm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
