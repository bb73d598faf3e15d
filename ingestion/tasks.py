"""Scheduled work of the ingestion app."""

from celery import shared_task

from petrosa_dm.market.symbols import symbols_refresh


@shared_task(name="ingestion.tasks.refresh_exchange_symbols")
def refresh_exchange_symbols() -> int:
    """Cache the exchange's symbol list in the store (beat runs it at start and every SYMBOLS_REFRESH_INTERVAL)."""
    return len(symbols_refresh())
