"""The auditor's side of a backfill job's life: its gaps follow the job (connected in `AuditsConfig.ready`)."""

from django.dispatch import receiver

from backfills import signals
from backfills.models import BackfillJob

from . import repair


@receiver(signals.job_finished, sender=BackfillJob, dispatch_uid="audits.gaps_after_job")
def gaps_after_job(*, job: BackfillJob, outcome: str, **kwargs) -> None:
    if outcome == "succeeded":
        repair.gaps_close_after_job(
            job=job,
            ref=kwargs["ref"],
            time_field=kwargs["time_field"],
            id_kind=kwargs.get("id_kind", "aggTrade"),
            note=kwargs.get("note", ""),
        )
    else:
        repair.gaps_reopen_after_job(job=job)


@receiver(signals.job_retried, sender=BackfillJob, dispatch_uid="audits.gaps_on_retry")
def gaps_on_retry(*, job: BackfillJob, **_kwargs) -> None:
    repair.gaps_resume_with_job(job=job)
