"""Petrosa Data Manager: Binance USD-M futures market data, stored, audited, repaired and served."""

from .celery import app as celery_app

__version__ = "0.1.0"
__all__ = ("__version__", "celery_app")
