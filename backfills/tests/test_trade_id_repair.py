"""Trade sequence gaps repaired by id: a replayed capture with aggTrade ids cut out, the next audit and its automatic
repair against the REST test server, and the id-range job from the API."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from audits.models import Gap
from audits.repair import gaps_link_job
from audits.services import dataset_audit
from backfills.models import BackfillJob
from backfills.services import InvalidBackfill, backfill_job_create, backfill_job_run
from catalog.services import dataset_ensure
from ingestion import store
from ingestion.batches import batch_parse
from ingestion.replay import Capture
from ingestion.services import batch_store
from petrosa_dm.market.naming import DataType, series

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
CAPTURE = "binance/ws/captures/cryptofeed_BINANCE_FUTURES.ws.1.0.txt"
NOW = datetime(2021, 7, 22, 23, tzinfo=UTC)


def _capture_agg_trades(path) -> list[dict]:
    """The capture's aggTrade events, in the REST body shape the test server serves."""
    trades = []
    for payload in Capture(path).messages():
        data = json.loads(payload).get("data") or {}
        if data.get("e") == "aggTrade":
            trades.append({key: data[key] for key in ("a", "p", "q", "f", "l", "T", "m")} | {"s": data["s"]})
    return trades


def _replay(path, *, drop_ids: set[int], symbol: str) -> int:
    """Replay the capture through the consumer's parse and store steps, losing the messages with `drop_ids`."""
    kept = []
    for payload in Capture(path).messages():
        data = json.loads(payload).get("data") or {}
        if data.get("e") == "aggTrade" and data.get("s") == symbol and data["a"] in drop_ids:
            continue
        kept.append((payload, "binance.futures.websocket.data"))
    batch = batch_parse(payloads=kept, ingested_at=NOW)
    return batch_store(batch=batch).written


def _stored_ids(ref) -> list[int]:
    return [row["trade_id"] for row in store.collection(ref).find({"kind": "aggTrade"}, sort=[("trade_id", 1)])]


def test_capture_with_trade_ids_cut_out_is_contiguous_after_audit_and_automatic_repair(
    shared_data, binance, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.AUDIT_REPAIR_ENABLED = True
    recorded = _capture_agg_trades(shared_data / CAPTURE)
    symbol = "SUSHIUSDT"
    rest = {symbol: [{k: v for k, v in trade.items() if k != "s"} for trade in recorded if trade["s"] == symbol]}
    server = binance(recorded_agg_trades=rest)
    ids = [trade["a"] for trade in rest[symbol]]
    lost = [ids[5:9], ids[20:21], ids[30:33]]  # three holes: 4 ids, 1 id, 3 ids
    _replay(shared_data / CAPTURE, drop_ids={i for run in lost for i in run}, symbol=symbol)
    ref = series(DataType.TRADES, symbol)
    assert len(_stored_ids(ref)) == len(ids) - 8

    dataset, _ = dataset_ensure(ref=ref)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = dataset_audit(dataset=dataset, now=NOW)
    assert outcome.gaps_created == 3 and outcome.jobs_created == 3

    assert _stored_ids(ref) == ids  # contiguous again, and nothing beyond the holes
    jobs = BackfillJob.objects.order_by("from_id")
    assert [(job.from_id, job.to_id, job.status, job.source) for job in jobs] == [
        (run[0], run[-1], "succeeded", "auditor") for run in lost
    ]
    # Each job asked exactly for its id range by fromId, and stopped at the last missing id.
    calls = server.requests_to("/fapi/v1/aggTrades")
    assert sorted((int(c.params["fromId"]), int(c.params["limit"])) for c in calls) == [
        (run[0], len(run)) for run in lost
    ]
    assert all("startTime" not in call.params for call in calls)
    gaps = Gap.objects.filter(dataset=dataset).order_by("first_missing_id")
    assert [(gap.first_missing_id, gap.last_missing_id, gap.status) for gap in gaps] == [
        (run[0], run[-1], "filled") for run in lost
    ]
    restored = {row["trade_id"]: row for row in store.collection(ref).find({"trade_id": {"$in": lost[0]}})}
    by_id = {trade["a"]: trade for trade in rest[symbol]}
    assert all(
        str(row["price"].to_decimal()) == by_id[i]["p"] and row["source"] == "rest" for i, row in restored.items()
    )

    # The next audit finds nothing open and starts no job.
    again = dataset_audit(dataset=dataset, now=NOW + timedelta(minutes=5), full=True)
    assert again.open_gaps == 0 and again.jobs_created == 0


def test_gap_stays_open_while_the_exchange_returns_only_part_of_its_ids(mongo_db, binance):
    symbol = "SUSHIUSDT"
    base = 1_000
    trades = [
        {"a": i, "p": "7.6", "q": "1", "f": i * 2, "l": i * 2 + 1, "T": 1626992741000 + i, "m": True}
        for i in range(base, base + 10)
    ]
    binance(recorded_agg_trades={symbol: [t for t in trades if t["a"] != base + 5]})  # the exchange lacks one id
    ref = series(DataType.TRADES, symbol)
    dataset, _ = dataset_ensure(ref=ref)
    gap = Gap.objects.create(
        dataset=dataset,
        kind=Gap.Kind.SEQUENCE,
        start=datetime(2021, 7, 22, tzinfo=UTC),
        end=datetime(2021, 7, 23, tzinfo=UTC),
        first_missing_id=base + 2,
        last_missing_id=base + 7,
        missing_count=6,
    )
    job = backfill_job_create(
        symbol=symbol,
        data_type="trades",
        start=gap.start,
        end=gap.end,
        from_id=base + 2,
        to_id=base + 7,
        enqueue=False,
    )
    gaps_link_job(gaps=[gap], job=job)  # as the auditor's repair links the gap it is meant to fill
    job = backfill_job_run(job=job)
    gap.refresh_from_db()
    assert job.status == "succeeded" and job.rows_inserted == 5
    assert gap.status == "open" and "1 of 6 ids still missing" in gap.note


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"data_type": "candles", "timeframe": "1m", "from_id": 1, "to_id": 2}, "from_id"),
        ({"data_type": "funding_rates", "to_id": 2}, "to_id"),
        ({"data_type": "trades", "from_id": 5}, "to_id"),
        ({"data_type": "trades", "from_id": 5, "to_id": 4}, "to_id"),
    ],
)
def test_an_id_range_outside_aggregate_trades_is_refused_naming_the_parameter(fields, param):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidBackfill) as raised:
        backfill_job_create(symbol="BTCUSDT", start=start, end=start + timedelta(hours=1), enqueue=False, **fields)
    assert raised.value.field == param


def _api_user():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username="ops", password="x" * 12)
    user.user_permissions.add(Permission.objects.get(codename="add_backfilljob"))
    return user


TRADES_BODY = {
    "symbol": "SUSHIUSDT",
    "data_type": "trades",
    "start": "2021-07-22T00:00:00Z",
    "end": "2021-07-23T00:00:00Z",
}


def test_api_id_range_job_fetches_exactly_those_ids(
    client, mongo_db, binance, eager_celery, django_capture_on_commit_callbacks
):
    trades = [{"a": i, "p": "7.6", "q": "1", "f": i, "l": i, "T": 1626992741000 + i, "m": False} for i in range(50)]
    server = binance(recorded_agg_trades={"SUSHIUSDT": trades})
    client.force_login(_api_user())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/backfill/start", {**TRADES_BODY, "from_id": 10, "to_id": 19}, content_type="application/json"
        )
    assert response.status_code == 201, response.content
    body = client.get(f"/backfill/jobs/{response.json()['id']}").json()
    assert (body["from_id"], body["to_id"], body["status"], body["rows_inserted"]) == (10, 19, "succeeded", 10)
    assert _stored_ids(series(DataType.TRADES, "SUSHIUSDT")) == list(range(10, 20))
    assert [call.params["fromId"] for call in server.requests_to("/fapi/v1/aggTrades")] == ["10"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"data_type": "candles", "timeframe": "1m", "from_id": 1, "to_id": 3}, "from_id"),
        ({"data_type": "funding_rates", "to_id": 3}, "to_id"),
        ({"from_id": 9, "to_id": 3}, "to_id"),
        ({"source": "ftp"}, "source"),
        ({"data_type": "depth", "source": "archive"}, "source"),
    ],
)
def test_api_bad_id_range_or_source_is_400_naming_the_parameter(client, change, param):
    client.force_login(_api_user())
    response = client.post("/backfill/start", {**TRADES_BODY, **change}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{param}:")
    assert BackfillJob.objects.count() == 0


def test_the_admin_action_on_an_agg_trade_gap_starts_an_id_range_job(
    admin_client, mongo_db, binance, eager_celery, django_capture_on_commit_callbacks
):
    symbol = "SUSHIUSDT"
    trades = [{"a": i, "p": "7.6", "q": "1", "f": i, "l": i, "T": 1626992741000 + i, "m": False} for i in range(30)]
    binance(recorded_agg_trades={symbol: trades})
    ref = series(DataType.TRADES, symbol)
    from backfills.rows import agg_trade_rows

    rows = agg_trade_rows([t for t in trades if not 10 <= t["a"] <= 14], symbol=symbol, now=NOW)
    store.write_rows(ref, rows)
    dataset, _ = dataset_ensure(ref=ref)
    dataset_audit(dataset=dataset, now=NOW)
    gap = Gap.objects.get(dataset=dataset)
    assert (gap.first_missing_id, gap.last_missing_id, gap.status) == (10, 14, "backfilling")  # auto repair queued
    gap.status, gap.backfill_job = "open", None
    gap.save()
    BackfillJob.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/audits/gap/", {"action": "backfill_selected", "_selected_action": [gap.pk]}, follow=True
        )
    assert response.status_code == 200
    job = BackfillJob.objects.get()
    gap.refresh_from_db()
    assert (job.from_id, job.to_id, job.source, job.status) == (10, 14, "admin", "succeeded")
    assert gap.status == "filled" and _stored_ids(ref) == list(range(30))
