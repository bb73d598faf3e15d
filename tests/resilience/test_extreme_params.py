"""Finding 4: extreme but valid-looking times and offsets are a 400 naming the parameter, never an OverflowError 500.

Before the fix `/data/candles?period=1M&offset=100000` (and `period=1w`) raised OverflowError, as did
`end=0001-01-01T00:00:00Z`, and `start` at year 1 +14:00 or 9999-12-31 -14:00, on every `/data/*` endpoint.
Runs against the embedded store and the ORM database.
"""

from urllib.parse import urlencode

import pytest

from petrosa_dm.market.timeutils import utcnow

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/data/candles?pair=BTCUSDT&period=1m",
    "/data/candles?pair=BTCUSDT&period=1M",
    "/data/trades?pair=BTCUSDT",
    "/data/depth/updates?pair=BTCUSDT",
    "/data/funding?pair=BTCUSDT",
    "/data/mark-prices?pair=BTCUSDT",
    "/data/tickers?pair=BTCUSDT",
]
EXTREME_TIMES = [
    ("end", "0001-01-01T00:00:00Z"),
    ("start", "0001-01-01T00:00:00+14:00"),
    ("start", "9999-12-31T23:59:59-14:00"),
    ("end", "9999-12-31T23:59:59.999999Z"),
    ("start", "-62135596800001"),
    ("end", "99999999999999999999"),
]


@pytest.fixture
def stored_candles(mongo_db):
    now = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for period in ("1M", "1w"):
        mongo_db[f"candles_BTCUSDT_{period}"].insert_one({"symbol": "BTCUSDT", "open_time": now, "interval": period})
    return mongo_db


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("parameter", "value"), EXTREME_TIMES)
def test_a_time_outside_the_representable_range_is_a_400_naming_it(client, mongo_db, endpoint, parameter, value):
    response = client.get(f"{endpoint}&{urlencode({parameter: value})}")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["parameter"] == parameter


@pytest.mark.parametrize("value", [value for _, value in EXTREME_TIMES])
def test_an_order_book_moment_outside_the_representable_range_is_a_400_naming_it(client, mongo_db, value):
    response = client.get(f"/data/depth?pair=BTCUSDT&{urlencode({'at': value})}")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["parameter"] == "at"


@pytest.mark.parametrize("period", ["1M", "1w"])
def test_a_deep_offset_of_long_candles_answers_without_overflow(client, stored_candles, period):
    response = client.get("/data/candles", {"pair": "BTCUSDT", "period": period, "offset": "100000"})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert response.json()["parameter"] == "offset"
    else:
        assert response.json()["data"] == []
