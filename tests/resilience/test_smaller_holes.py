"""Finding 10: the smaller holes, each against the real engines (NATS JetStream and the embedded store for the
consumer; the ORM database and the full middleware stack for the HTTP ones)."""

import asyncio
import json
from collections import Counter

import pytest

from petrosa_dm.market.timeutils import utcnow

from .test_hostile_messages import publish, wait_for


def trade(trade_id: int, *, price: str = "61800.30", quantity: str = "0.006") -> bytes:
    event = {"e": "trade", "E": 1723161256322, "T": 1723161256322, "s": "BTCUSDT", "t": trade_id}
    event |= {"p": price, "q": quantity, "m": False}
    return json.dumps({"stream": "btcusdt@trade", "data": event}).encode()


@pytest.mark.timeout(120)
def test_decimals_follow_the_exchange_grammar_quantities_are_not_negative_and_prices_positive(pipeline):
    pipeline.consumer()
    messages = [
        trade(1, quantity="-1"),
        trade(2, price="1e400"),
        trade(3, quantity="1_000"),
        trade(4, price="0"),
        trade(5, price="+5"),
        trade(6, quantity=".5"),
        trade(7, price="-61800.30"),
        trade(8),  # good
        trade(9, quantity="0"),  # a zero quantity is the exchange's own (e.g. a removed level): stored
    ]
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, messages))
    wait_for(lambda: pipeline.state() == (len(messages), 0, 0), timeout=60, what="every message acked")
    stored = sorted(row["trade_id"] for row in pipeline.database["trades_BTCUSDT"].find())
    assert stored == [8, 9]
    reasons = Counter(letter["reason"] for letter in pipeline.database["dead_letters"].find())
    assert reasons == {"negative_quantity": 1, "wrong_type": 4, "non_positive_price": 2}


# --- admin actions -------------------------------------------------------------------------------------------


@pytest.fixture
def audited_dataset(mongo_db, settings):
    from catalog.models import Dataset
    from catalog.services import sync_catalog

    settings.AUDIT_REPAIR_ENABLED = False
    mongo_db["candles_BTCUSDT_1h"].insert_one({"symbol": "BTCUSDT", "open_time": utcnow(), "interval": "1h"})
    sync_catalog()
    return Dataset.objects.get(pk="candles_BTCUSDT_1h")


@pytest.fixture
def runs():
    """Tasks run in-process (eager), counted by name as Celery starts them."""
    from celery.signals import task_prerun

    from petrosa_dm.celery import app

    started = Counter()

    def count(sender=None, **_kwargs) -> None:
        started[sender.name] += 1

    task_prerun.connect(count, weak=False)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield started
    app.conf.task_always_eager = previous
    task_prerun.disconnect(count)


def _staff(client, *codenames: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("staff", password="a-long-test-password", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)


def _click(client, action: str) -> None:
    from django.urls import reverse

    url = reverse("admin:catalog_dataset_changelist")
    response = client.post(url, {"action": action, "_selected_action": ["candles_BTCUSDT_1h"]})
    assert response.status_code in (200, 302)


ACTIONS = {
    "audit_now": "audits.tasks.audit_dataset",
    "recompute_analytics": "analytics.tasks.compute_series",
    "sync_catalog": "catalog.tasks.sync_catalog",
}


@pytest.mark.django_db
def test_view_only_staff_cannot_queue_work_from_the_admin(client, audited_dataset, runs):
    _staff(client, "view_dataset")
    for action in ACTIONS:
        for _ in range(20):
            _click(client, action)
    assert sum(runs.values()) == 0


@pytest.mark.django_db
def test_an_action_clicked_twenty_times_queues_its_work_once(client, audited_dataset, runs):
    _staff(client, "view_dataset", "change_dataset")
    for action in ACTIONS:
        for _ in range(20):
            _click(client, action)
    assert runs == dict.fromkeys(ACTIONS.values(), 1)


# --- HTTP edges, through gunicorn as deployed ----------------------------------------------------------------


@pytest.fixture(scope="module")
def web(subprocess_database, tmp_path_factory):
    from .web import gunicorn

    log = tmp_path_factory.mktemp("web") / "gunicorn.log"
    with gunicorn(log, workers=1, threads=2, DATABASE_URL=subprocess_database) as url:
        yield url


def _request(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def test_metrics_answer_a_scrape_addressed_to_the_pod_ip(web):
    status, _type, body = _request(f"{web}/metrics", headers={"Host": "10.42.7.19:8000"})
    assert status == 200
    assert b"django_http_requests" in body or b"python_info" in body
    # Other paths keep the host check.
    assert _request(f"{web}/health/liveness", headers={"Host": "10.42.7.19:8000"})[0] == 400


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/backfill/start"), ("DELETE", "/data/candles"), ("PATCH", "/catalog/datasets")]
)
def test_methods_a_resource_lacks_are_a_json_405(web, method, path):
    status, content_type, body = _request(f"{web}{path}", method=method, body=b"{}")
    assert status == 405
    assert content_type.startswith("application/json") and json.loads(body)["detail"]


def test_a_two_megabyte_body_is_a_json_413(web):
    body = b'{"symbol": "' + b"x" * 2_000_000 + b'"}'
    status, content_type, answer = _request(
        f"{web}/backfill/start", method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert content_type.startswith("application/json") and "larger than" in json.loads(answer)["detail"]


def test_a_long_uri_is_a_json_414(web):
    status, content_type, body = _request(f"{web}/data/candles?pair=BTCUSDT&period=1m&junk={'x' * 6000}")
    assert status == 414
    assert content_type.startswith("application/json") and json.loads(body)["detail"]


@pytest.mark.django_db
def test_operators_usernames_are_hidden_from_anonymous_readers(client):
    from datetime import UTC, datetime, timedelta

    from django.contrib.auth import get_user_model

    from backfills.services import backfill_job_create

    operator = get_user_model().objects.create_user("ops-alice", password="a-long-test-password")
    start = datetime(2024, 3, 1, tzinfo=UTC)
    job = backfill_job_create(
        symbol="BTCUSDT", data_type="candles", timeframe="1h", start=start, end=start + timedelta(days=1),
        requested_by=operator, enqueue=False,
    )  # fmt: skip
    anonymous = [client.get("/backfill/jobs").content, client.get(f"/backfill/jobs/{job.pk}").content]
    assert all(b"ops-alice" not in body for body in anonymous)
    assert client.get(f"/backfill/jobs/{job.pk}").json()["requested_by"] is None
    client.force_login(operator)
    assert client.get(f"/backfill/jobs/{job.pk}").json()["requested_by"] == "ops-alice"


# --- login throttling ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logins_are_throttled_per_username_and_address(client, settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ops-bob", password="the-right-password-1", is_staff=True)
    url = "/admin/login/?next=/admin/"
    statuses = [
        client.post(url, {"username": "ops-bob", "password": "guess"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form with its error, then locked
    locked = client.post(url, {"username": "ops-bob", "password": "the-right-password-1"})
    assert locked.status_code == 429  # even the right password, until the cool-off
    assert "_auth_user_id" not in client.session
    # Another address is not locked out for this username.
    other = client.post(url, {"username": "ops-bob", "password": "the-right-password-1"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 302
