import pytest
from django.test import override_settings

from petrosa_dm import mongo
from petrosa_dm.testing.services import free_port, mongo_executor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def uncached_readiness():
    """These tests change a component and probe again at once: no shared result between probes."""
    from petrosa_dm import health

    health.forget()
    with override_settings(READINESS_CACHE_SECONDS=0):
        yield


def test_liveness_reports_ok_with_version(client):
    response = client.get("/health/liveness")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["timestamp"].endswith("Z")


def test_readiness_checks_every_component_for_real(client, mongo_available, nats_url, redis_url):
    with override_settings(NATS_URL=nats_url, CELERY_BROKER_URL=redis_url, CELERY_BROKER_TRANSPORT_OPTIONS={}):
        response = client.get("/health/readiness")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "healthy" and body["ready"] is True
    assert set(body["components"]) == {"database", "mongodb", "nats", "broker"}
    for state in body["components"].values():
        assert state["status"] == "healthy"
        assert state["latency_ms"] >= 0


def test_readiness_reports_an_unreachable_broker(client, mongo_available):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(CELERY_BROKER_URL=dead, CELERY_BROKER_TRANSPORT_OPTIONS={}):
        response = client.get("/health/readiness")
    assert response.status_code == 503
    assert response.json()["components"]["broker"]["status"] == "unhealthy"


@pytest.fixture
def own_mongo(tmp_path):
    """A dedicated embedded store that the test may stop and start, and the connection pointed at it."""
    port = free_port()
    executor = mongo_executor(port, storage=str(tmp_path / "mongo"))
    executor.start()
    with override_settings(MONGODB_URL=f"mongodb://127.0.0.1:{port}/readiness", MONGODB_TIMEOUT_MS=500):
        mongo.register_connection()
        yield executor
    executor.stop()
    mongo.register_connection()


def test_readiness_turns_503_naming_mongodb_and_recovers(client, own_mongo):
    assert client.get("/health/readiness").status_code == 200

    own_mongo.stop()
    response = client.get("/health/readiness")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy" and body["ready"] is False
    assert body["components"]["mongodb"]["status"] == "unhealthy"
    assert body["components"]["mongodb"]["error"]
    assert client.get("/health/liveness").status_code == 200

    own_mongo.start()
    response = client.get("/health/readiness")
    assert response.status_code == 200, response.json()
    assert response.json()["components"]["mongodb"]["status"] == "healthy"


def test_readiness_answers_in_time_when_the_store_is_frozen(client, own_mongo):
    """A stopped (SIGSTOP) store keeps its sockets open; the probe must still answer 503 within its deadline."""
    import os
    import signal
    import time

    assert client.get("/health/readiness").status_code == 200
    os.kill(own_mongo.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = client.get("/health/readiness")
        elapsed = time.monotonic() - started
    finally:
        os.kill(own_mongo.process.pid, signal.SIGCONT)
    assert response.status_code == 503
    assert response.json()["components"]["mongodb"]["status"] == "unhealthy"
    assert elapsed < 5


def test_readiness_shares_one_result_between_probes_within_its_cache_time(client, own_mongo):
    """Concurrent probes cost one check: within READINESS_CACHE_SECONDS the store's outage is not yet seen."""
    with override_settings(READINESS_CACHE_SECONDS=60):
        assert client.get("/health/readiness").status_code == 200
        own_mongo.stop()
        assert client.get("/health/readiness").status_code == 200
    assert client.get("/health/readiness").status_code == 503
