"""Bad input: every mutated message is stored, dead-lettered with a reason, or counted as ignored; none is lost
silently, none stops the consumer, and the consumer's memory stays bounded.

Mutations come from real messages (../shared/data/binance/ws/*.json when present) and the suite's own samples, by
a seeded generator (tests/resilience/mutations.py): truncation, wrong types, missing fields, huge numbers,
NaN/Infinity strings, zero and negative prices, unknown event types, nesting up to 10,000 levels, 2 MB payloads
(900 kB over NATS, whose default limit is 1 MB), invalid UTF-8, empty and null payloads, and arrays mixing good
and bad events.
"""

import asyncio
import signal
import time
import urllib.request
from collections import Counter

import nats
import psutil
import pytest
from bson.decimal128 import Decimal128

from ingestion.batches import batch_parse
from ingestion.documents import unique_key
from ingestion.parsing import REASONS
from petrosa_dm.market.timeutils import utcnow
from petrosa_dm.testing.services import free_port

from .conftest import PROJECT
from .mutations import Case, Mutator, seed_messages

SHARED_WS = PROJECT.parent / "shared" / "data" / "binance" / "ws"
SUBJECT = "fuzz.ws"
ROUNDS, WARM_UP = 24, 4
MAX_GROWTH_MB = 120


def outcome(case: Case, *, letter_id: str = "m") -> tuple[set[str], object]:
    batch = batch_parse(payloads=[(case.payload, SUBJECT)], ingested_at=utcnow(), message_id=lambda _index: letter_id)
    outcomes = {name for name, count in (("stored", batch.row_count), ("dead_letter", len(batch.dead_letters)),
                                         ("ignored", batch.ignored)) if count}  # fmt: skip
    return outcomes, batch


def violations_of(case: Case, outcomes: set[str], batch) -> list[str]:
    found = []
    if not outcomes:
        found.append("lost silently: neither stored, dead-lettered nor ignored")
    if case.expect == "stored" and "stored" not in outcomes:
        found.append(f"valid rows not stored: {outcomes}")
    if case.mutation == "control" and batch.dead_letters:
        found.append(f"a valid message was dead-lettered: {batch.dead_letters[0]['error']}")
    if case.expect in ("dead_letter", "ignored") and outcomes != {case.expect}:
        found.append(f"expected {case.expect}, got {outcomes}")
    for letter in batch.dead_letters:
        if letter["reason"] not in REASONS or not letter["error"] or not isinstance(letter["raw"], str):
            found.append(f"dead letter without a proper reason: {letter['reason']!r} {letter['error']!r}")
    if case.reason and [letter["reason"] for letter in batch.dead_letters] != [case.reason]:
        found.append(f"expected reason {case.reason}, got {[letter['reason'] for letter in batch.dead_letters]}")
    return found


# --- regressions: inputs that used to raise out of batch_parse (stopping the consumer on every redelivery) --------


def test_an_event_type_nested_a_thousand_levels_deep_is_dead_lettered():
    payload = b'{"e":' + b"[" * 1000 + b"]" * 1000 + b',"E":1723161256322}'
    outcomes, batch = outcome(Case("deep_e", payload))
    assert outcomes == {"dead_letter"}
    assert batch.failed == Counter(wrong_type=1)
    assert batch.dead_letters[0]["error"] == "event type 'e' must be a string, got list"


def test_an_array_event_too_deep_to_write_back_keeps_the_whole_message_as_its_dead_letter():
    good = (
        b'{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3","T":1723161256313,'
        b'"E":1723161256313}'
    )
    bad = b'{"e":"trade","x":' + b"[" * 300 + b"]" * 300 + b"}"  # orjson reads 1,024 levels but writes 254
    payload = b"[" + good + b"," + bad + b"]"
    outcomes, batch = outcome(Case("deep_array", payload))
    assert outcomes == {"stored", "dead_letter"}
    assert [letter["reason"] for letter in batch.dead_letters] == ["missing_field"]
    assert batch.dead_letters[0]["raw"] == payload.decode()
    assert [item["index"] for item in batch.dead_letters[0]["rejections"]] == [1]


def test_an_integer_beyond_64_bits_is_dead_lettered_rather_than_failing_every_store_write():
    """orjson reads unsigned 64-bit integers; BSON cannot hold one above 2**63 - 1, so the batch write would fail
    and be retried for ever (the consumer stuck, nothing acked)."""
    payload = (
        b'{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":18446744073709551615,'
        b'"p":"61800.30","q":"0.006","m":false}'
    )
    outcomes, batch = outcome(Case("uint64", payload))
    assert outcomes == {"dead_letter"}
    assert batch.failed == Counter(wrong_type=1)
    assert "does not fit a 64-bit integer" in batch.dead_letters[0]["error"]


# --- fuzz, in process ------------------------------------------------------------------------------------------


def test_thousands_of_mutated_messages_are_each_stored_dead_lettered_or_ignored():
    seeds = seed_messages(SHARED_WS)
    cases = list(Mutator(seeds, seed=20240808).cases(5000))
    by_outcome: Counter = Counter()
    reasons: Counter = Counter()
    violations = []
    for case in cases:
        outcomes, batch = outcome(case)
        by_outcome.update(f"{case.mutation}:{name}" for name in outcomes)
        reasons.update(letter["reason"] for letter in batch.dead_letters)
        violations += [(case.mutation, problem, case.payload[:160]) for problem in violations_of(case, outcomes, batch)]

    # The consumer parses batches of many messages: the same cases in batches of 200 give the same totals.
    stored = ignored = 0
    batched_reasons: Counter = Counter()
    for start in range(0, len(cases), 200):
        chunk = [(case.payload, SUBJECT) for case in cases[start : start + 200]]
        batch = batch_parse(payloads=chunk, ingested_at=utcnow())
        assert batch.messages == len(chunk)
        batched_reasons += batch.failed
        ignored += batch.ignored
        stored += batch.row_count

    mutations = Counter(case.mutation for case in cases)
    oversized = sum(len(case.payload) for case in cases if case.mutation == "oversized")
    print(f"\n[fuzz] {len(cases)} mutated messages from {len(seeds)} seeds: {dict(sorted(mutations.items()))}")
    print(f"[fuzz] oversized payloads: {mutations['oversized']} ({oversized / 1e6:.1f} MB in all)")
    print(f"[fuzz] outcomes by mutation: {dict(sorted(by_outcome.items()))}")
    print(f"[fuzz] dead letters by reason: {dict(sorted(reasons.items()))}; ignored {ignored}; rows {stored}")
    assert not violations, f"{len(violations)} of {len(cases)} cases misbehaved, e.g. {violations[:5]}"
    assert batched_reasons == reasons, "batches of 200 rejected differently from single messages"
    assert set(mutations) >= {*Mutator.MUTATIONS, "control", "oversized"}, "a mutation was never drawn"


# --- fuzz through a live consumer ------------------------------------------------------------------------------


async def _publish(url: str, subject: str, cases: list[Case]) -> list[int]:
    """Publish with JetStream acks; returns each message's stream sequence (the consumer's dead-letter id)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        return [(await js.publish(subject, case.payload)).seq for case in cases]
    finally:
        await nc.close()


def _key(row: dict, fields: tuple) -> tuple:
    # Decimal128 (a liquidation's price is part of its key) is not hashable: compare its exact text.
    return tuple(str(row[name]) if isinstance(row[name], Decimal128) else row[name] for name in fields)


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return {name: float(value) for name, _, value in (line.rpartition(" ") for line in lines if line[:1] != "#")}


def _wait_all_acked(pipeline, published: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while (state := pipeline.state()) != (published, 0, 0):
        assert time.monotonic() < deadline, f"not all {published} messages acked: {state}"
        time.sleep(0.1)


@pytest.mark.timeout(180)
def test_a_live_consumer_stores_dead_letters_or_ignores_every_mutated_message_in_bounded_memory(pipeline):
    metrics_port = free_port()
    consumer = pipeline.consumer(metrics_port=metrics_port)
    options = pipeline.options
    mutator = Mutator(seed_messages(SHARED_WS), seed=7, oversized_bytes=900_000)  # NATS' default max payload: 1 MB
    rounds = [list(mutator.cases(150, oversized=0.1)) for _ in range(ROUNDS)]

    published: list[tuple[int, Case]] = []
    rss, volumes = [], []
    for cases in rounds:
        volumes.append(sum(len(case.payload) for case in cases))
        sequences = asyncio.run(_publish(options.nats_url, options.subject, cases))
        published += zip(sequences, cases, strict=True)
        _wait_all_acked(pipeline, len(published))
        assert consumer.poll() is None, f"the consumer died: {pipeline.consumer_log(0)}"
        rss.append(psutil.Process(consumer.pid).memory_info().rss)
    metrics = _scrape(metrics_port)
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=30) == 0

    # What each message must have become, from the same parser in this process, keyed as the consumer keys them.
    expected_letters, expected_rows, refs, ignored, by_mutation = {}, {}, {}, 0, Counter()
    for sequence, case in published:
        outcomes, batch = outcome(case, letter_id=f"{options.stream}:{sequence}")
        assert outcomes, f"message {sequence} ({case.mutation}) accounted nowhere"
        by_mutation.update(f"{case.mutation}:{name}" for name in outcomes)
        expected_letters |= {letter["_id"]: letter["reason"] for letter in batch.dead_letters}
        for ref, rows in batch.rows.items():
            refs[ref.collection] = ref
            fields = unique_key(ref.data_type)
            expected_rows.setdefault(ref.collection, set()).update(_key(row, fields) for row in rows)
        ignored += batch.ignored

    database = pipeline.database
    letters = {letter["_id"]: letter["reason"] for letter in database["dead_letters"].find({}, {"reason": 1})}
    stored_rows = {}
    for name, keys in expected_rows.items():
        fields = unique_key(refs[name].data_type)
        found = [_key(row, fields) for row in database[name].find({}, dict.fromkeys(fields, 1))]
        stored_rows[name] = (len(keys), len(found), len(keys - set(found)), len(found) - len(set(found)))
    volume = sum(volumes)
    growth, measured_volume = (rss[-1] - rss[WARM_UP - 1]) / 1e6, sum(volumes[WARM_UP:]) / 1e6
    print(f"\n[live-fuzz] published {len(published)} mutated messages ({volume / 1e6:.1f} MB) in {len(rounds)} rounds")
    print(f"[live-fuzz] outcomes: {dict(sorted(by_mutation.items()))}")
    print(f"[live-fuzz] dead letters by reason: {dict(sorted(Counter(letters.values()).items()))}; ignored {ignored}")
    print(f"[live-fuzz] consumer RSS after each round (MB): {[round(value / 1e6, 1) for value in rss]}")
    print(f"[live-fuzz] RSS growth after round {WARM_UP}: {growth:.1f} MB for {measured_volume:.1f} MB published")
    print(f"[live-fuzz] rows per collection (expected, stored, lost, doubled): {stored_rows}")
    assert metrics["data_manager_messages_received_total"] >= len(published)
    assert metrics["data_manager_messages_processed_total"] >= len(published)
    assert metrics["data_manager_messages_ignored_total"] >= ignored
    assert letters == expected_letters, "dead letters differ from the parser's verdicts"
    wrong = {name: counts for name, counts in stored_rows.items() if counts[0] != counts[1] or counts[2] or counts[3]}
    assert not wrong, f"rows lost or doubled (expected, stored, lost, doubled): {wrong}"
    # Once warm (the allocator's arenas, pymongo's buffers, the first collections' indexes) the consumer's RSS
    # wanders with fragmentation (250-310 MB here over 24 rounds; parsing and storing alone stay flat under
    # tracemalloc); keeping even one copy of each payload would grow it by all the later rounds' payloads, over
    # twice the allowed growth.
    assert measured_volume > 2 * MAX_GROWTH_MB
    assert growth < MAX_GROWTH_MB, (
        f"consumer RSS grew {growth:.0f} MB while {measured_volume:.0f} MB of mutated messages went through: {rss}"
    )
