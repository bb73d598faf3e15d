import pytest


@pytest.fixture(autouse=True)
def _no_repair_unless_asked(settings):
    """Repair creates backfill jobs; only the repair tests turn it back on."""
    settings.AUDIT_REPAIR_ENABLED = False
