"""One shape for every process's log lines (web, consumer, worker, beat): JSON with `time`, `level`, `logger`,
`message`, `service`, and `job_id`, `dataset`, `error` where they apply.

`service` names the process (DM_SERVICE, set per process in the Procfile and the manifests; otherwise guessed from
the command line). Callers pass `extra={"job_id": ..., "dataset": ..., "error": ...}`; the older `dataset_id` key is
written as `dataset`, so one key finds a dataset's lines in every process.
"""

import logging
import os
import sys
from functools import cache


@cache
def service_name() -> str:
    if os.environ.get("DM_SERVICE"):
        return os.environ["DM_SERVICE"]
    argv = " ".join(sys.argv)
    for word, name in (("gunicorn", "web"), (" worker", "worker"), (" beat", "beat"), ("consume", "consumer")):
        if word in argv:
            return name
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"


class StructuredFieldsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service = service_name()
        if "dataset_id" in record.__dict__ and "dataset" not in record.__dict__:
            record.dataset = record.__dict__.pop("dataset_id")
        return True


def configure_from_settings(**_kwargs) -> None:
    """Celery's `setup_logging` receiver: the worker and beat log through Django's LOGGING, not Celery's own text
    handlers (connecting any receiver to this signal stops Celery from configuring logging itself)."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
