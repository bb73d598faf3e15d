"""Celery tasks: thin wrappers that load by id and call one service."""

import logging

from celery import shared_task
from django.conf import settings

from catalog.models import Dataset

from .services import dataset_audit, datasets_audit_all

logger = logging.getLogger(__name__)


@shared_task(name="audits.tasks.audit_all", ignore_result=True)
def audit_all(full: bool = False) -> int:
    """The scheduled audit of every dataset (every AUDIT_INTERVAL seconds); does nothing when ENABLE_AUDITOR is off."""
    if not settings.ENABLE_AUDITOR:
        logger.info("auditor disabled (ENABLE_AUDITOR=false)")
        return 0
    return len(datasets_audit_all(full=full))


@shared_task(name="audits.tasks.audit_dataset", ignore_result=True)
def audit_dataset(dataset_id: str, full: bool = False) -> float | None:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        logger.warning("audit of an unknown dataset", extra={"dataset_id": dataset_id})
        return None
    return dataset_audit(dataset=dataset, full=full).quality_score
