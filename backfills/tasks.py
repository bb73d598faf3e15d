"""Celery tasks of the backfiller: thin, they load by id and call one service."""

from celery import shared_task
from django.dispatch import receiver

from . import services, signals
from .models import BackfillJob


@shared_task(bind=True, name="backfills.tasks.run_backfill_job")
def run_backfill_job(self, job_id: int) -> str | None:
    job = BackfillJob.objects.filter(pk=job_id).first()
    if job is None:
        return None
    return services.backfill_job_run(job=job, run_token=self.request.id, split=True).status


@shared_task(name="backfills.tasks.resume_stale_jobs")
def resume_stale_jobs() -> list[int]:
    return services.backfill_jobs_resume_stale()


@receiver(signals.job_ready, sender=BackfillJob, dispatch_uid="backfills.enqueue")
def enqueue_ready_job(*, job: BackfillJob, priority: int, **_kwargs) -> None:
    """Services announce a committed job; the worker gets it here, so services never import this module."""
    run_backfill_job.apply_async(args=[job.pk], priority=priority)
