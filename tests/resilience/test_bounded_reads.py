"""Finding 9: expensive anonymous reads. Deep offsets took 7-10 s each (ten at once starved readiness for 68 s),
an on-demand correlation with window=100000 took 9 s, and nothing was throttled.

In process, against the embedded store and the ORM database, with the default settings."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_an_offset_past_the_bound_is_a_400_pointing_at_start_and_end(client, mongo_db, settings):
    mongo_db["trades_BTCUSDT"].insert_one({"symbol": "BTCUSDT", "trade_id": 1})
    response = client.get(f"/data/trades?pair=BTCUSDT&offset={settings.API_MAX_OFFSET + 1}")
    assert response.status_code == 400
    assert response.json()["parameter"] == "offset"
    assert client.get(f"/data/trades?pair=BTCUSDT&offset={settings.API_MAX_OFFSET}").status_code == 200


def test_an_on_demand_correlation_window_past_the_cap_is_a_400(client, settings):
    window = settings.ANALYTICS_CORRELATION_MAX_WINDOW + 1
    response = client.get(f"/analysis/correlation?pairs=BTCUSDT,ETHUSDT&period=1h&window={window}")
    assert response.status_code == 400
    assert response.json()["parameter"] == "window"


def test_anonymous_reads_are_throttled_but_probes_and_exempt_services_are_not(client, settings):
    allowed = int(settings.API_THROTTLE_ANON.split("/")[0])
    statuses = [client.get("/").status_code for _ in range(allowed + 1)]
    assert statuses[:allowed] == [200] * allowed
    throttled = client.get("/")
    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"]
    assert client.get("/health/liveness").status_code == 200

    service = get_user_model().objects.create_user(username="analytics-service", password="x" * 12)
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=service).key}"}
    with override_settings(API_THROTTLE_EXEMPT_USERS=["analytics-service"]):
        assert {client.get("/", **headers).status_code for _ in range(allowed + 1)} == {200}
