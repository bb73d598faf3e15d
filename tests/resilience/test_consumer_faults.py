"""Faults during a replay of real captured data: the consumer killed, NATS restarted, the store stopped.

Each test runs its own embedded MongoDB-compatible server (on disk), its own nats-server (JetStream on disk) and the
consumer as `manage.py consume` subprocesses, replays the cryptofeed capture plus the first 3,000 messages of the
hftbacktest BTCUSDT capture while injecting its fault, waits until JetStream has every message acked, and then
compares the store with the identities worked out from the capture lines: nothing lost, nothing doubled.
"""

import asyncio
import signal
import threading
import time
import urllib.request
from collections.abc import Callable

import nats
import pytest
from nats.errors import Error as NatsError

from petrosa_dm.testing.services import free_port

from .captures import (
    CRYPTOFEED,
    HFT_BTCUSDT,
    assert_exact,
    capture_messages,
    expected_identities,
    replayed_messages,
)

pytestmark = [pytest.mark.shared_data, pytest.mark.timeout(150)]

HFT_LINES = 3000
# Slow enough that the replay spans the faults, fast enough to keep each test well under 90 s.
CRYPTOFEED_RATE, HFT_RATE = 160.0, 320.0


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def wait_all_acked(pipeline, published: int, *, timeout: float = 90) -> None:
    def done() -> bool:
        messages, pending, ack_pending = pipeline.state()
        return messages >= published and pending == 0 and ack_pending == 0

    wait_for(done, timeout=timeout, what=f"all {published} published messages acked (state {pipeline.state()})")


def replay_captures(pipeline, shared_data) -> tuple[list, list[bytes]]:
    """Start both replays (subprocesses of `manage.py replay`); returns them and the messages they publish."""
    messages = replayed_messages(shared_data / CRYPTOFEED)
    messages += replayed_messages(shared_data / HFT_BTCUSDT, limit=HFT_LINES)
    replays = [
        pipeline.replay(shared_data / CRYPTOFEED, rate=CRYPTOFEED_RATE),
        pipeline.replay(shared_data / HFT_BTCUSDT, rate=HFT_RATE, limit=HFT_LINES),
    ]
    return replays, messages


def replays_published(replays) -> int:
    """What the replays say they published (core NATS onto a bound stream: every one reaches JetStream)."""
    published = 0
    for replay in replays:
        output, errors = replay.communicate(timeout=60)
        assert replay.returncode == 0, errors
        published += int(output.split("published ", 1)[1].split(" ", 1)[0])
    return published


def test_consumer_killed_three_times_during_a_replay_stores_everything_once(pipeline, shared_data):
    replays, messages = replay_captures(pipeline, shared_data)
    expected, unstorable = expected_identities(messages)
    consumer = pipeline.consumer()
    kills = []
    for _ in range(3):
        # Let this consumer store a few hundred rows, then kill it mid-stream without warning.
        base = pipeline.stored()
        wait_for(lambda b=base: pipeline.stored() >= b + 300, timeout=60, what="the consumer to store rows")
        consumer.send_signal(signal.SIGKILL)
        assert consumer.wait(timeout=10) == -signal.SIGKILL
        _messages, pending, ack_pending = pipeline.state()
        replaying = any(replay.poll() is None for replay in replays)
        kills.append({"stored": pipeline.stored(), "pending": pending, "unacked": ack_pending, "replaying": replaying})
        consumer = pipeline.consumer()
    published = replays_published(replays)
    wait_all_acked(pipeline, published)
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=30) == 0

    print(f"\n[sigkill] injected 3 SIGKILLs: {kills}")
    dead_letters = pipeline.database["dead_letters"].count_documents({})
    print(f"[sigkill] published {published} messages; dead letters {dead_letters}")
    assert published == len(messages)
    assert kills[0]["replaying"], f"the first kill came after the replay: {kills}"
    assert all(kill["pending"] + kill["unacked"] > 0 for kill in kills), f"a kill came after all was consumed: {kills}"
    assert_exact(pipeline.database, expected, label="sigkill")
    assert dead_letters == unstorable


def test_store_stopped_for_seconds_during_a_replay_stores_everything_once(pipeline, own_mongo, shared_data):
    metrics_port = free_port()
    # A write deadline shorter than the 5-s outage: every write attempted while the store is down fails and is
    # retried by the consumer. (With the default 30 s a write waits out the outage inside pymongo and succeeds,
    # and whether one was retried depended on the moment of the stop: CI saw both.)
    consumer = pipeline.consumer(metrics_port=metrics_port, CONSUMER_STORE_TIMEOUT_MS="2000")
    replays, messages = replay_captures(pipeline, shared_data)
    expected, unstorable = expected_identities(messages)
    wait_for(lambda: pipeline.stored() >= 500, timeout=60, what="the first rows")

    own_mongo.stop()
    stopped_at = time.monotonic()
    _, pending_at_stop, unacked_at_stop = pipeline.state()
    time.sleep(5)
    _, pending_down, unacked_down = pipeline.state()
    replaying = any(replay.poll() is None for replay in replays)
    alive_while_down = consumer.poll() is None
    own_mongo.start()
    down_seconds = time.monotonic() - stopped_at

    published = replays_published(replays)
    wait_all_acked(pipeline, published)
    retries = _scrape(metrics_port).get("data_manager_store_retries_total", 0)
    assert consumer.poll() is None, pipeline.consumer_log(0)
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=30) == 0

    print(
        f"\n[store-down] stopped the store for {down_seconds:.1f} s (replay running: {replaying}); "
        f"at stop: {pending_at_stop} undelivered, {unacked_at_stop} unacked; "
        f"after 5 s down: {pending_down} undelivered, {unacked_down} unacked; store write retries {retries:.0f}"
    )
    print(f"[store-down] published {published} messages")
    assert published == len(messages)
    assert alive_while_down, "the consumer exited while the store was down"
    assert replaying, "the replay ended before the store came back: the fault was not during the replay"
    assert retries > 0, "no write was retried: the store outage was not felt"
    assert pending_down + unacked_down > 0, "everything was acked while the store was down"
    assert_exact(pipeline.database, expected, label="store-down")
    assert pipeline.database["dead_letters"].count_documents({}) == unstorable


def test_nats_restarted_during_a_replay_stores_everything_accepted_once(pipeline, own_nats, shared_data):
    """The publisher here is the test's own, with JetStream publish acks: a message counts as published when the
    server acknowledged storing it. Core-NATS publishes made while the server is down reach no stream (or sit in
    the client's reconnect buffer with no confirmation), so counting core publishes would not say what the stream
    got. An unacknowledged publish is retried until acknowledged; each carries a `Nats-Msg-Id`, so a retry of a
    message the server did store before its ack was lost is discarded by the server as a duplicate."""
    messages = _interleave(
        capture_messages(shared_data / CRYPTOFEED), capture_messages(shared_data / HFT_BTCUSDT, limit=HFT_LINES)
    )
    expected, unstorable = expected_identities(messages)
    consumer = pipeline.consumer()
    publisher = AckedPublisher(pipeline.options.nats_url, pipeline.options.subject, messages, rate=480.0)
    publisher.start()
    wait_for(lambda: pipeline.stored() >= 500, timeout=60, what="the first rows")

    own_nats.stop()
    stopped_at = time.monotonic()
    accepted_at_stop = publisher.accepted
    time.sleep(3)
    own_nats.start()
    down_seconds = time.monotonic() - stopped_at

    publisher.join(timeout=90)
    assert not publisher.is_alive(), "the publisher did not finish"
    assert publisher.error is None, publisher.error
    stream_messages, _, _ = pipeline.state()
    wait_all_acked(pipeline, publisher.accepted)
    assert consumer.poll() is None, pipeline.consumer_log(0)
    consumer.send_signal(signal.SIGTERM)
    assert consumer.wait(timeout=30) == 0

    print(
        f"\n[nats-restart] restarted nats-server ({down_seconds:.1f} s down) after {accepted_at_stop} of "
        f"{len(messages)} publishes were acknowledged; publishes failed and retried: {publisher.failed}; "
        f"duplicates discarded by the server: {publisher.duplicates}; connection errors {publisher.connection_errors}"
    )
    print(f"[nats-restart] accepted {publisher.accepted}, stream holds {stream_messages}")
    assert accepted_at_stop < len(messages), "the publisher had finished before the restart"
    assert publisher.failed > 0, "no publish failed: the restart was not felt by the publisher"
    assert publisher.accepted == len(messages) == stream_messages
    assert_exact(pipeline.database, expected, label="nats-restart")
    assert pipeline.database["dead_letters"].count_documents({}) == unstorable


def _interleave(first: list[bytes], second: list[bytes]) -> list[bytes]:
    """Two captures merged in proportion, as two symbols' streams arrive together."""
    merged, ratio = [], len(second) / max(1, len(first))
    taken = 0
    for index, message in enumerate(first):
        until = round((index + 1) * ratio)
        merged.extend(second[taken:until])
        taken = until
        merged.append(message)
    return merged + second[taken:]


class AckedPublisher(threading.Thread):
    """Publishes each message with a JetStream publish ack, at `rate`, retrying until the server accepts it."""

    def __init__(self, url: str, subject: str, messages: list[bytes], *, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.subject, self.messages, self.rate = url, subject, messages, rate
        self.accepted = 0
        self.failed = 0
        self.duplicates = 0
        self.connection_errors = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as exc:  # reported by the test
            self.error = exc

    async def _publish(self) -> None:
        nc = await nats.connect(
            self.url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=2,
            error_cb=self._on_error,  # refused reconnects while the server is down: expected, counted
        )
        js = nc.jetstream(timeout=1.0)
        started = time.monotonic()
        try:
            for number, payload in enumerate(self.messages):
                ahead = number / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
                await self._publish_one(js, payload, f"resilience-{number}")
        finally:
            await nc.close()

    async def _on_error(self, error: Exception) -> None:
        self.connection_errors += 1

    async def _publish_one(self, js, payload: bytes, message_id: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                ack = await js.publish(self.subject, payload, headers={"Nats-Msg-Id": message_id})
            except (NatsError, TimeoutError):
                self.failed += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            self.accepted += 1  # a duplicate ack still says the server holds the message
            self.duplicates += bool(ack.duplicate)
            return


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return {name: float(value) for name, _, value in (line.rpartition(" ") for line in lines if line[:1] != "#")}
