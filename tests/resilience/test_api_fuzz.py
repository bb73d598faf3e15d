"""Schemathesis over the whole OpenAPI schema of the live app (in process, through WSGI): no operation answers a
server error it does not document, whatever the parameters and bodies (a documented 503, readiness when a
component is down, is the contract).

Requests are made as an operator with every permission (a superuser's token), so write paths are generated too;
a job created by `POST /backfill/start` is never enqueued, because the test's transaction never commits. A few
rows of every served series, the catalog and a backfill job are stored first, so reads find something to page through.
"""

from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from backfills.models import BackfillJob
from catalog.services import sync_catalog
from ingestion.store import write_rows
from ingestion.tests.rows import T0, depth_row, funding_row, grid, mark_price_row, ticker_row, trade_row, write_candles
from petrosa_dm.market.naming import series
from petrosa_dm.wsgi import application

# More than a quick run's handful per operation; with ~15 operations this stays well under three minutes here.
MAX_EXAMPLES = 120
pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]
STATUSES: Counter = Counter()


@pytest.fixture(autouse=True)
def stored_data(db, mongo_db, wsgi_keeps_test_connection):
    """Every kind of series the data API serves, the catalog synced from them, and a finished backfill job."""
    write_candles(grid(T0, 300))
    write_rows(series("trades", "BTCUSDT"), [trade_row(i) for i in range(1, 60)])
    write_rows(series("depth", "BTCUSDT"), [depth_row(10 * i, prev=10 * i - 10) for i in range(1, 12)])
    write_rows(series("funding_rates", "BTCUSDT"), [funding_row(T0 + timedelta(hours=8 * i)) for i in range(6)])
    write_rows(series("mark_prices", "BTCUSDT"), [mark_price_row(T0 + timedelta(seconds=s)) for s in range(10)])
    write_rows(series("tickers", "BTCUSDT"), [ticker_row(T0 + timedelta(seconds=s)) for s in range(5)])
    sync_catalog()
    BackfillJob.objects.create(
        symbol="BTCUSDT", data_type="candles", timeframe="1h", start=T0, end=T0 + timedelta(days=1),
        status="succeeded", progress=1.0,
    )  # fmt: skip


@pytest.fixture
def operator_headers(django_user_model) -> dict:
    user, _ = django_user_model.objects.get_or_create(username="fuzz-operator", is_staff=True, is_superuser=True)
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    by_operation = Counter(label for label, _status in STATUSES.elements())
    print(f"\n[api-fuzz] {sum(STATUSES.values())} requests over {len(by_operation)} operations")
    print(f"[api-fuzz] statuses: {dict(sorted(Counter(status for _label, status in STATUSES.elements()).items()))}")
    print(f"[api-fuzz] requests per operation: {dict(sorted(by_operation.items()))}")


# The schema is generated without touching a database, so it is loaded at import (one test per operation).
schema = schemathesis.openapi.from_wsgi("/schema", application)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_an_undocumented_server_error(case, operator_headers):
    response = case.call(headers=operator_headers)
    STATUSES[(case.operation.label, response.status_code)] += 1
    documented = set(case.operation.definition.raw.get("responses", {}))
    assert response.status_code < 500 or str(response.status_code) in documented, (
        f"{case.operation.label} answered {response.status_code}: {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command()}"
    )
