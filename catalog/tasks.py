from dataclasses import asdict

from celery import shared_task

from . import services


@shared_task(name="catalog.tasks.sync_catalog")
def sync_catalog() -> dict:
    return asdict(services.sync_catalog())
