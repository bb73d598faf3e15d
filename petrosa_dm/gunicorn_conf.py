"""Gunicorn settings for the web process: its own error and access logs in the same JSON as every other process."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")

from django.conf import settings

_config = settings.LOGGING
logconfig_dict = {
    **_config,
    "loggers": {
        **_config.get("loggers", {}),
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
