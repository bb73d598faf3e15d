from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from backfills import services
from backfills.models import BackfillJob

pytestmark = pytest.mark.django_db

BODY = {
    "symbol": "btcusdt",
    "data_type": "candles",
    "timeframe": "1m",
    "start": "2024-03-01T00:00:00Z",
    "end": "2024-03-01T02:00:00Z",
    "priority": 3,
}


def _user(*, allowed: bool):
    user = get_user_model().objects.create_user(username="allowed" if allowed else "viewer", password="x" * 12)
    if allowed:
        user.user_permissions.add(Permission.objects.get(codename="add_backfilljob"))
    return user


def _token_headers(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


def test_anonymous_start_is_refused_with_401(client):
    response = client.post("/backfill/start", BODY, content_type="application/json")
    assert response.status_code == 401
    assert BackfillJob.objects.count() == 0


def test_a_user_without_the_permission_gets_403(client):
    response = client.post(
        "/backfill/start", BODY, content_type="application/json", **_token_headers(_user(allowed=False))
    )
    assert response.status_code == 403
    assert BackfillJob.objects.count() == 0


def test_a_permitted_user_starts_a_job_that_runs(
    client, binance, mongo_db, eager_celery, django_capture_on_commit_callbacks
):
    binance()
    user = _user(allowed=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/backfill/start", BODY, content_type="application/json", **_token_headers(user))
    assert response.status_code == 201
    body = response.json()
    assert (body["symbol"], body["timeframe"], body["priority"], body["requested_by"]) == (
        "BTCUSDT",
        "1m",
        3,
        "allowed",
    )
    job = client.get(f"/backfill/jobs/{body['id']}").json()
    assert (job["status"], job["rows_inserted"], job["progress"]) == ("succeeded", 120, 1.0)


def test_session_login_works_too(client):
    client.force_login(_user(allowed=True))
    response = client.post("/backfill/start", BODY, content_type="application/json")
    assert response.status_code == 201
    assert BackfillJob.objects.get().requested_by.username == "allowed"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"symbol": "BTC/USDT"}, "symbol"),
        ({"data_type": "candels"}, "data_type"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"end": "2024-02-01T00:00:00Z"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"priority": 12}, "priority"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, change, field):
    client.force_login(_user(allowed=True))
    response = client.post("/backfill/start", {**BODY, **change}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}:")
    assert BackfillJob.objects.count() == 0


def test_a_symbol_unknown_to_binance_gives_a_failed_job_with_binances_message(
    client, binance, mongo_db, eager_celery, django_capture_on_commit_callbacks
):
    binance()
    client.force_login(_user(allowed=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/backfill/start", {**BODY, "symbol": "NOPEUSDT"}, content_type="application/json")
    assert response.status_code == 201
    job = client.get(f"/backfill/jobs/{response.json()['id']}").json()
    assert job["status"] == "failed"
    assert "Invalid symbol." in job["error"]


def test_job_list_filters_and_paginates(client):
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for symbol, data_type in [("BTCUSDT", "candles"), ("ETHUSDT", "candles"), ("BTCUSDT", "funding_rates")]:
        services.backfill_job_create(
            symbol=symbol,
            data_type=data_type,
            timeframe="1h",
            start=start,
            end=start + timedelta(days=1),
            enqueue=False,
        )
    services.backfill_job_cancel(job=BackfillJob.objects.get(symbol="ETHUSDT"))
    everything = client.get("/backfill/jobs").json()
    assert everything["pagination"]["total"] == 3
    assert [job["id"] for job in everything["data"]] == sorted((job["id"] for job in everything["data"]), reverse=True)
    assert client.get("/backfill/jobs?symbol=btcusdt").json()["pagination"]["total"] == 2
    assert client.get("/backfill/jobs?status=cancelled").json()["data"][0]["symbol"] == "ETHUSDT"
    assert client.get("/backfill/jobs?data_type=funding_rates").json()["pagination"]["total"] == 1
    page = client.get("/backfill/jobs?limit=2").json()
    assert len(page["data"]) == 2 and page["pagination"]["has_next"]
    assert client.get("/backfill/jobs?status=nonsense").status_code == 400
    assert client.get("/backfill/jobs", {"from": "2024-02-29T23:00:00-02:00"}).json()["pagination"]["total"] == 3
    assert client.get("/backfill/jobs", {"to": "2000-01-01T00:00:00Z"}).json()["pagination"]["total"] == 0
    # A valid ISO time whose UTC value falls before year 1 (found by the API fuzz test as a 500).
    outside = client.get("/backfill/jobs", {"to": "0001-01-01T00:00:00+00:01"})
    assert outside.status_code == 400 and "representable" in outside.content.decode()
    # A bad filter value names the query's parameter, in the one error shape.
    for query, parameter in (({"from": "garbage"}, "from"), ({"status": "nonsense"}, "status")):
        body = client.get("/backfill/jobs", query).json()
        assert body["parameter"] == parameter and body["detail"].startswith(f"{parameter}: "), body


def test_unknown_job_is_404(client):
    assert client.get("/backfill/jobs/999").status_code == 404


def test_the_schema_documents_the_backfill_paths(client):
    paths = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert {"/backfill/start", "/backfill/jobs", "/backfill/jobs/{id}"} <= set(paths)
    assert {"201", "400", "401", "403"} <= set(paths["/backfill/start"]["post"]["responses"])
