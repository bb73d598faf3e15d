"""CONTRACT.md, "Service and health", "Catalog", "Backfill" and "Not served": the callers' requests."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from audits.services import datasets_audit_all
from catalog.services import sync_catalog

from . import recorded

PAGINATION_KEYS = {"total", "limit", "offset", "page", "pages", "has_next", "has_previous"}


@pytest.fixture
def catalogued(load, settings):
    """LINKUSDT 1m candles and BTCUSDT trades through the consumer, catalogued and audited (no repair jobs)."""
    settings.AUDIT_REPAIR_ENABLED = False
    load(
        recorded.klines(recorded.LINK_1M, symbol="LINKUSDT", interval="1m", rows=slice(0, 120)),
        recorded.trades(recorded.BTC_CAPTURE, 50),
    )
    sync_catalog()
    datasets_audit_all()


def test_service_info_says_operational(client, db):
    body = client.get("/").json()

    assert (body["service"], body["status"]) == ("petrosa-data-manager", "operational")
    assert isinstance(body["version"], str) and body["version"]


def test_liveness(client, db):
    body = client.get("/health/liveness").json()

    assert body["status"] in ("ok", "healthy")
    datetime.fromisoformat(body["timestamp"])
    assert isinstance(body["version"], str)


def test_readiness_is_healthy_with_its_components(client, db, mongo_db, nats_url, redis_url, settings):
    settings.NATS_URL, settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS = nats_url, redis_url, {}

    response = client.get("/health/readiness")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["ready"]) == ("healthy", True)
    assert body["components"] and all(state["status"] == "healthy" for state in body["components"].values())
    datetime.fromisoformat(body["timestamp"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.shared_data
def test_health_summary_and_pair_health_keep_the_dashboard_figures(client, catalogued):
    summary = client.get("/health/summary").json()
    pair = client.get("/health", {"pair": "LINKUSDT", "period": "1m"}).json()

    figures = ("completeness", "freshness_sec", "gaps", "duplicates", "consistency_score", "quality_score")
    for body in (summary["data"], pair["health"]):
        for key in figures:
            float(body[key])
    assert summary["data"]["total_datasets"] == 2
    assert pair["health"]["completeness"] == pair["datasets"][0]["completeness"]
    assert (pair["health"]["gaps"], pair["health"]["duplicates"]) == (0, 0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.shared_data
def test_catalog_datasets_list(client, catalogued):
    query = {"category": "market_data", "owner": "petrosa-data-manager", "search": "usdt", "limit": 1, "offset": 1,
             "sort_by": "dataset_id", "sort_order": "desc"}  # fmt: skip
    response = client.get("/catalog/datasets", query)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"data", "pagination", "filters_applied", "sort", "last_updated"}
    assert [dataset["dataset_id"] for dataset in body["data"]] == ["candles_LINKUSDT_1m"]
    assert set(body["pagination"]) >= PAGINATION_KEYS
    assert (body["pagination"]["total"], body["pagination"]["page"], body["pagination"]["pages"]) == (2, 2, 2)
    assert body["pagination"]["has_previous"] is True and body["pagination"]["has_next"] is False
    assert body["filters_applied"] == {"category": "market_data", "owner": "petrosa-data-manager", "search": "usdt"}
    assert body["sort"] == {"by": "dataset_id", "order": "desc"}
    datetime.fromisoformat(body["last_updated"])
    assert client.get("/catalog/datasets", {"limit": 501}).json()["parameter"] == "limit"


@pytest.mark.django_db(transaction=True)
@pytest.mark.shared_data
@pytest.mark.parametrize("path", ["/catalog/datasets/", "/catalog/schemas/", "/catalog/lineage/"])
def test_catalog_ids_in_the_earlier_spelling_resolve(client, catalogued, path):
    ours = client.get(f"{path}candles_LINKUSDT_1m")
    earlier = client.get(f"{path}candles_1m_linkusdt")

    assert (ours.status_code, earlier.status_code) == (200, 200)
    assert earlier.json() == ours.json()
    assert client.get(f"{path}trades_btcusdt").status_code == 200
    assert client.get(f"{path}candles_1h_linkusdt").status_code == 404


def _writer_headers() -> dict:
    user = User.objects.create_user("operator")
    user.user_permissions.add(Permission.objects.get(codename="add_backfilljob"))
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


EARLIER_BODY = {
    "symbol": "BTCUSDT",
    "data_type": "candles",
    "timeframe": "1h",
    "start_time": "2024-08-01T00:00:00",
    "end_time": "2024-08-02T00:00:00Z",
    "priority": 10,
}


@pytest.mark.django_db  # the test's transaction never commits, so no job is handed to a worker
def test_backfill_start_takes_the_earlier_body_and_stays_authenticated(client):
    anonymous = client.post("/backfill/start", EARLIER_BODY, content_type="application/json")
    response = client.post("/backfill/start", EARLIER_BODY, content_type="application/json", **_writer_headers())

    assert anonymous.status_code == 401
    assert response.status_code == 201, response.json()
    job = response.json()
    assert isinstance(job["job_id"], int)
    assert job["status"] == "pending"
    assert job["request"] == {
        "symbol": "BTCUSDT",
        "data_type": "candles",
        "timeframe": "1h",
        "start_time": "2024-08-01T00:00:00Z",
        "end_time": "2024-08-02T00:00:00Z",
        "priority": 9,
    }
    assert (job["progress"], job["records_fetched"], job["records_inserted"]) == (0.0, 0, 0)
    datetime.fromisoformat(job["created_at"])
    assert (job["started_at"], job["completed_at"]) == (None, None)
    assert datetime.fromisoformat(job["request"]["start_time"]) == datetime(2024, 8, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_backfill_jobs_list_and_detail(client):
    headers = _writer_headers()
    # Two BTCUSDT jobs over different days (an identical active job would be returned, not queued again).
    for symbol, end in (("BTCUSDT", "2024-08-02"), ("ETHUSDT", "2024-08-02"), ("BTCUSDT", "2024-08-03")):
        body = EARLIER_BODY | {"symbol": symbol, "data_type": "funding", "timeframe": None, "end_time": end}
        assert client.post("/backfill/start", body, content_type="application/json", **headers).status_code == 201

    query = {"status": "pending", "symbol": "BTCUSDT", "data_type": "funding_rates", "from": "2020-01-01T00:00:00",
             "to": "2100-01-01T00:00:00Z", "limit": 1, "offset": 0, "sort_by": "created_at",
             "sort_order": "desc"}  # fmt: skip
    listed = client.get("/backfill/jobs", query).json()

    assert set(listed) >= {"data", "pagination", "filters_applied", "sort"}
    assert set(listed["pagination"]) >= PAGINATION_KEYS
    assert (listed["pagination"]["total"], listed["pagination"]["pages"], listed["pagination"]["has_next"]) == (
        2, 2, True,
    )  # fmt: skip
    assert listed["filters_applied"] == {key: query[key] for key in ("status", "symbol", "data_type", "from", "to")}
    assert listed["sort"] == {"by": "created_at", "order": "desc"}
    [job] = listed["data"]
    detail = client.get(f"/backfill/jobs/{job['job_id']}").json()
    assert detail == job
    assert detail["request"]["data_type"] == "funding_rates"
    assert client.get("/backfill/jobs", {"to": "2000-01-01T00:00:00Z"}).json()["pagination"]["total"] == 0


@pytest.mark.django_db
def test_the_published_clients_bearer_api_key_authenticates(client, mongo_db, settings):
    # The client sends its api_key as `Authorization: Bearer <key>`; reads may be set to need a token.
    settings.API_READ_REQUIRES_AUTH = True
    key = Token.objects.create(user=User.objects.create_user("ta-bot")).key

    anonymous = client.get("/data/candles?pair=BTCUSDT&period=1h")
    bearer = client.get("/data/candles?pair=BTCUSDT&period=1h", HTTP_AUTHORIZATION=f"Bearer {key}")
    wrong = client.get("/data/candles?pair=BTCUSDT&period=1h", HTTP_AUTHORIZATION="Bearer not-a-key")

    assert (anonymous.status_code, bearer.status_code, wrong.status_code) == (401, 200, 401)
    assert bearer.json()["data"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/mongodb/candles_BTCUSDT_1h",
        "/api/v1/mysql/backfill_jobs",
        "/api/v1/data/candles",
        "/api/v1/config/strategies",
        "/api/v1/raw/query",
    ],
)
def test_the_database_proxy_and_config_store_are_not_served(client, db, path):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 404
        assert response.json() == {"detail": f"not found: {path}"}
