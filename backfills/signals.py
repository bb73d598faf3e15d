"""What the backfiller announces. The backfiller knows nothing of the apps that listen: the auditor closes or
reopens the gaps a job was meant to fill, and `backfills.tasks` hands a committed job to a worker.

Every signal is sent with `sender=BackfillJob` and `job=` the job.
"""

from django.dispatch import Signal

# A job is ready to run (created or retried) and its transaction committed. Also sent with `priority`.
job_ready = Signal()
# A job was retried: the work it was meant to do is wanted again.
job_retried = Signal()
# A job finished. Also sent with `outcome` ("succeeded", "failed" or "cancelled"); on success with `ref` (the
# series it wrote), `time_field` (the field its rows are ordered by), `id_kind` (the trade id kind, for trade id
# gaps) and `note` (why part of the range had no source), so listeners can check what is now stored.
# Sent inside the transaction that records the outcome: a listener's writes commit or roll back with it.
job_finished = Signal()
