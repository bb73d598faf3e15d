"""Finding 8: unbounded backfills. `{"data_type": "trades", "start": 2030, "end": 9999}` was accepted (about 70
million empty requests), so were 10 years of 1m candles and an unknown symbol, and identical jobs could be queued
again and again. Through the real API, the ORM database and the store (for the cached exchange symbols)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from backfills.models import BackfillJob
from petrosa_dm.market import symbols
from petrosa_dm.market.timeutils import utcnow

pytestmark = pytest.mark.django_db

BODY = {"symbol": "BTCUSDT", "data_type": "candles", "timeframe": "1m"}
BODY |= {"start": "2024-03-01T00:00:00Z", "end": "2024-03-01T02:00:00Z"}


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user(username="operator", password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="add_backfilljob"))
    client.force_login(user)
    return user


@pytest.fixture
def listed(mongo_db):
    """The exchange's list as `refresh_symbols` caches it."""
    mongo_db[symbols.COLLECTION].insert_one({"_id": symbols.DOCUMENT_ID, "symbols": ["BTCUSDT", "ETHUSDT"]})
    symbols.forget()
    yield
    symbols.forget()


def start(client, **changes):
    return client.post("/backfill/start", BODY | changes, content_type="application/json")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"data_type": "trades", "start": "2030-01-01T00:00:00Z", "end": "9999-01-01T00:00:00Z"}, "start"),
        ({"start": "2014-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "end"),  # 10 years of 1m candles
        ({"data_type": "trades", "start": "2024-01-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}, "end"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z", "timeframe": "1d"}, "end"),  # past now
        ({"symbol": "NOPEUSDT"}, "symbol"),
    ],
)
def test_an_unbounded_backfill_is_a_400_naming_the_field(client, operator, listed, changes, field):
    response = start(client, **changes)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert BackfillJob.objects.count() == 0


def test_long_candles_may_span_years_and_end_now(client, operator, listed):
    response = start(client, timeframe="1d", start="2015-01-01T00:00:00Z", end=utcnow().isoformat())
    assert response.status_code == 201, response.content


def test_an_identical_active_job_is_returned_instead_of_queued_again(client, operator, listed):
    # Jobs stay pending: the test's transaction never commits, so nothing is enqueued.
    first = start(client)
    assert first.status_code == 201
    again = [start(client) for _ in range(5)]
    assert {response.status_code for response in again} == {200}
    assert {response.json()["id"] for response in again} == {first.json()["id"]}
    assert BackfillJob.objects.count() == 1
    # Once it is no longer active, the same request is a new job.
    BackfillJob.objects.update(status=BackfillJob.Status.SUCCEEDED)
    assert start(client).status_code == 201
    assert BackfillJob.objects.count() == 2
