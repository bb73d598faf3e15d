from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from rest_framework.authtoken.models import Token

from catalog.services import sync_catalog
from ingestion import store
from petrosa_dm.market.intervals import floor_to_grid
from petrosa_dm.market.naming import series
from petrosa_dm.market.timeutils import to_ms, utcnow

from .rows import T0, depth_row, funding_row, grid, mark_price_row, ticker_row, trade_row, write_candles

pytestmark = pytest.mark.django_db

CANDLE_FIELDS = {"timestamp", "open", "high", "low", "close", "volume"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_downstream_call_returns_the_250_newest_candles_newest_first(client, mongo_db):
    # The newest candle is the current hour: the shape of a live collection.
    newest = floor_to_grid(utcnow(), "1h")
    open_times = grid(newest - timedelta(hours=299), 300)
    write_candles(open_times)

    response = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=250&sort_order=desc")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["pair"], body["period"]) == ("BTCUSDT", "1h")
    assert [row["timestamp"] for row in body["data"]] == [iso(t) for t in reversed(open_times[-250:])]
    for row in body["data"]:
        assert set(row) >= CANDLE_FIELDS
        assert all(isinstance(row[field], str) for field in CANDLE_FIELDS)
    assert body["data"][0]["high"] == "61900.50"
    assert body["data"][0]["quote_volume"] == "7630000.1200"
    assert body["pagination"] == {
        "total": 300,
        "total_exact": False,
        "limit": 250,
        "offset": 0,
        "has_next": True,
        "has_previous": False,
        "next_offset": 250,
    }
    assert body["metadata"]["collection"] == "candles_BTCUSDT_1h"
    assert body["metadata"]["completeness"] == 1.0


def test_offset_pages_continue_where_the_previous_page_ended(client, mongo_db):
    newest = floor_to_grid(utcnow(), "1h")
    open_times = grid(newest - timedelta(hours=29), 30)
    write_candles(open_times)

    first = client.get("/data/candles?pair=btcusdt&period=1h&limit=20").json()
    second = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=20&offset=20").json()

    timestamps = [row["timestamp"] for row in first["data"] + second["data"]]
    assert timestamps == [iso(t) for t in reversed(open_times)]
    assert second["pagination"]["has_next"] is False
    assert second["pagination"]["total"] == 30
    assert second["pagination"]["total_exact"] is True


def test_old_collection_is_served_newest_first_too(client, mongo_db):
    open_times = grid(T0, 50)
    write_candles(open_times)

    body = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=10").json()

    assert [row["timestamp"] for row in body["data"]] == [iso(t) for t in reversed(open_times[-10:])]


def test_ascending_window_is_half_open_and_accepts_every_time_format(client, mongo_db):
    write_candles(grid(T0, 48))
    start = "2024-08-08T02:00:00+00:00Z"
    end = to_ms(T0 + timedelta(hours=5))

    query = {"pair": "BTCUSDT", "period": "1h", "sort_order": "asc", "start": start, "end": end}
    body = client.get("/data/candles", query).json()

    assert [row["timestamp"] for row in body["data"]] == [iso(T0 + timedelta(hours=h)) for h in (2, 3, 4)]
    assert body["pagination"]["total"] == 3
    assert body["metadata"]["start"] == "2024-08-08T02:00:00.000Z"
    assert body["metadata"]["end"] == "2024-08-08T05:00:00.000Z"


def test_a_window_with_a_hole_reports_its_real_completeness(client, mongo_db):
    open_times = [t for i, t in enumerate(grid(T0, 24)) if i not in (18, 19, 20)]
    write_candles(open_times)

    window = client.get("/data/candles?pair=BTCUSDT&period=1h&start=2024-08-08T00:00:00Z&end=2024-08-09T00:00:00Z")
    page = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=10")
    full_page = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=3")

    metadata = window.json()["metadata"]
    assert metadata["completeness"] == pytest.approx(21 / 24)
    assert metadata["completeness_detail"]["scope"] == "window"
    assert (metadata["completeness_detail"]["present"], metadata["completeness_detail"]["expected"]) == (21, 24)
    # The newest 10 candles span 13 grid slots (the hole is inside them); the newest 3 are contiguous.
    assert page.json()["metadata"]["completeness"] == pytest.approx(10 / 13)
    assert full_page.json()["metadata"]["completeness"] == 1.0


def test_prices_are_the_stored_text_exactly(client, mongo_db):
    store.write_rows(series("trades", "ETHUSDT"), [trade_row(1, symbol="ETHUSDT", price="2650.100")])

    row = client.get("/data/trades?pair=ETHUSDT").json()["data"][0]

    assert row["price"] == "2650.100"
    assert row["quantity"] == "0.010"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("period=1h", "pair"),
        ("pair=BTC-USDT&period=1h", "pair"),
        ("pair=BTCUSDT", "period"),
        ("pair=BTCUSDT&period=7m", "period"),
        ("pair=BTCUSDT&period=1h&limit=0", "limit"),
        ("pair=BTCUSDT&period=1h&limit=1001", "limit"),
        ("pair=BTCUSDT&period=1h&limit=ten", "limit"),
        ("pair=BTCUSDT&period=1h&offset=-1", "offset"),
        ("pair=BTCUSDT&period=1h&sort_order=newest", "sort_order"),
        ("pair=BTCUSDT&period=1h&start=yesterday", "start"),
        ("pair=BTCUSDT&period=1h&end=2024-13-01T00:00:00Z", "end"),
        ("pair=BTCUSDT&period=1h&start=2024-08-09T00:00:00Z&end=2024-08-08T00:00:00Z", "start"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, mongo_db, query, parameter):
    write_candles(grid(T0, 3))

    response = client.get(f"/data/candles?{query}")

    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
    assert response.json()["detail"].startswith(f"{parameter}: ")


def test_bad_trade_kind_is_400(client, mongo_db):
    response = client.get("/data/trades?pair=BTCUSDT&kind=liquidation")
    assert response.status_code == 400
    assert response.json()["parameter"] == "kind"


def test_unknown_pair_or_period_is_404(client, mongo_db):
    write_candles(grid(T0, 3))

    unknown_pair = client.get("/data/candles?pair=DOGEUSDT&period=1h")
    unknown_period = client.get("/data/candles?pair=BTCUSDT&period=4h")
    unknown_funding = client.get("/data/funding?pair=BTCUSDT")

    for response in (unknown_pair, unknown_period, unknown_funding):
        assert response.status_code == 404
        assert set(response.json()) == {"detail"}
    assert "DOGEUSDT" in unknown_pair.json()["detail"]
    assert "candles_BTCUSDT_4h" in unknown_period.json()["detail"]


def test_a_known_pair_with_nothing_in_the_window_is_an_empty_page(client, mongo_db):
    write_candles(grid(T0, 3))

    response = client.get("/data/candles?pair=BTCUSDT&period=1h&start=2030-01-01T00:00:00Z")

    assert response.status_code == 200
    assert response.json()["data"] == []
    assert response.json()["pagination"]["total"] == 0


def test_trades_filter_by_kind_and_report_id_completeness(client, mongo_db):
    ref = series("trades", "BTCUSDT")
    store.write_rows(ref, [trade_row(i) for i in range(1, 21) if i != 10])
    store.write_rows(ref, [trade_row(i, kind="trade") for i in range(1, 6)])

    everything = client.get("/data/trades?pair=BTCUSDT&limit=1000").json()
    aggregate = client.get("/data/trades?pair=BTCUSDT&kind=aggTrade&limit=1000").json()

    assert everything["pagination"]["total"] == 24
    assert everything["metadata"]["completeness"] is None
    assert "kind=aggTrade" in everything["metadata"]["completeness_detail"]["reason"]
    assert {row["kind"] for row in aggregate["data"]} == {"aggTrade"}
    assert len(aggregate["data"]) == 19
    assert aggregate["metadata"]["completeness"] == pytest.approx(19 / 20)


def test_depth_lists_the_latest_update_first_with_its_update_ids(client, mongo_db):
    ref = series("depth", "BTCUSDT")
    store.write_rows(ref, [depth_row(100, prev=None), depth_row(110, prev=100), depth_row(130, prev=120)])

    body = client.get("/data/depth/updates?pair=BTCUSDT").json()
    latest = client.get("/data/depth/updates?pair=BTCUSDT&limit=1").json()

    assert [row["final_update_id"] for row in body["data"]] == [130, 110, 100]
    assert body["metadata"]["sequence_breaks"] == 1
    assert body["metadata"]["latest_final_update_id"] == 130
    row = latest["data"][0]
    assert (row["first_update_id"], row["final_update_id"], row["prev_final_update_id"]) == (121, 130, 120)
    assert row["bids"] == [["61800.10", "1.500"], ["61800.00", "0.000"]]


def test_funding_mark_prices_and_tickers_are_served(client, mongo_db):
    funding_times = [T0 + timedelta(hours=8 * i) for i in range(4)]
    store.write_rows(series("funding_rates", "BTCUSDT"), [funding_row(t) for t in funding_times])
    store.write_rows(series("mark_prices", "BTCUSDT"), [mark_price_row(T0 + timedelta(seconds=s)) for s in range(5)])
    store.write_rows(series("tickers", "BTCUSDT"), [ticker_row(T0 + timedelta(seconds=s)) for s in range(3)])

    funding = client.get("/data/funding?pair=BTCUSDT").json()
    marks = client.get("/data/mark-prices?pair=BTCUSDT&limit=2").json()
    tickers = client.get("/data/tickers?pair=BTCUSDT&sort_order=asc").json()

    assert [row["funding_time"] for row in funding["data"]] == [iso(t) for t in reversed(funding_times)]
    assert funding["data"][0]["funding_rate"] == "0.00010000"
    assert funding["metadata"]["completeness"] is None
    assert "funding interval" in funding["metadata"]["completeness_detail"]["reason"]
    assert [row["mark_price"] for row in marks["data"]] == ["61810.12345678"] * 2
    assert marks["pagination"]["has_next"] is True
    assert tickers["data"][0]["timestamp"] == iso(T0)
    assert tickers["data"][0]["last_price"] == "61800.30"


def _reader_token() -> str:
    User.objects.create_user("reader", password="unused-in-this-test")
    call_command("drf_create_token", "reader")
    return Token.objects.get(user__username="reader").key


def test_reads_are_open_by_default(client, mongo_db):
    write_candles(grid(T0, 2))
    assert client.get("/data/candles?pair=BTCUSDT&period=1h").status_code == 200


def test_reads_need_a_token_or_session_when_the_setting_says_so(client, mongo_db):
    write_candles(grid(T0, 2))
    token = _reader_token()

    with override_settings(API_READ_REQUIRES_AUTH=True):
        anonymous = client.get("/data/candles?pair=BTCUSDT&period=1h")
        with_token = client.get("/data/candles?pair=BTCUSDT&period=1h", HTTP_AUTHORIZATION=f"Token {token}")
        bad_token = client.get("/data/candles?pair=BTCUSDT&period=1h", HTTP_AUTHORIZATION="Token nope")
        client.force_login(User.objects.get(username="reader"))
        with_session = client.get("/catalog/datasets")

    assert anonymous.status_code == 401
    assert "detail" in anonymous.json()
    assert bad_token.status_code == 401
    assert with_token.status_code == 200
    assert len(with_token.json()["data"]) == 2
    assert with_session.status_code == 200


def test_future_and_past_candles_are_both_found_by_the_recent_window(client, mongo_db):
    # An open candle stamped slightly ahead of our clock must still be the newest row returned.
    newest = floor_to_grid(datetime.now(UTC), "1m") + timedelta(minutes=1)
    open_times = grid(newest - timedelta(minutes=99), 100, "1m")
    write_candles(open_times, interval="1m")

    body = client.get("/data/candles?pair=BTCUSDT&period=1m&limit=3").json()

    assert [row["timestamp"] for row in body["data"]] == [iso(t) for t in reversed(open_times[-3:])]


def test_an_unfiltered_total_is_the_catalogs_count_once_synced(client, mongo_db):
    write_candles(grid(T0, 40))
    sync_catalog()
    write_candles(grid(T0 + timedelta(hours=40), 5))

    before = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=10").json()
    sync_catalog()
    after = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=10").json()
    windowed = client.get("/data/candles?pair=BTCUSDT&period=1h&limit=10&start=2024-08-08T00:00:00Z").json()

    assert (before["pagination"]["total"], before["pagination"]["total_exact"]) == (40, False)
    assert before["data"][0]["timestamp"] == iso(T0 + timedelta(hours=44))
    assert after["pagination"]["total"] == 45
    assert (windowed["pagination"]["total"], windowed["pagination"]["total_exact"]) == (45, True)
