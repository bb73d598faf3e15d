"""Services of each fault test's own, so the test can stop and restart them: an on-disk embedded MongoDB-compatible
server, a nats-server with a JetStream store directory, a redis-server, and the consumer as a subprocess."""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import nats
import pymongo
import pytest
from mirakuru import TCPExecutor

from ingestion.consumer import ConsumerOptions, ensure_durable, ensure_stream
from petrosa_dm.testing.services import free_port, mongo_executor, nats_executor, redis_executor

PROJECT = Path(__file__).resolve().parents[2]


def _unavailable(what: str) -> None:
    if os.environ.get("DM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (DM_REQUIRE_SERVICES=1) but not installed")
    pytest.skip(f"{what} is not installed")


@dataclass
class Service:
    """A server of the test's own; `stop()` and `start()` again keep its port and its data directory."""

    url: str
    executor: TCPExecutor
    database: object = None

    def stop(self) -> None:
        self.executor.stop()

    def start(self) -> None:
        self.executor.start()


@pytest.fixture
def own_mongo(tmp_path):
    """An embedded MongoDB-compatible server storing on disk, so a restart keeps what it acknowledged."""
    port = free_port()
    storage = tmp_path / "mongo"
    storage.mkdir()
    service = Service(f"mongodb://127.0.0.1:{port}/resilience", mongo_executor(port, str(storage)))
    service.start()
    client = pymongo.MongoClient(service.url, tz_aware=True, serverSelectionTimeoutMS=5000)
    service.database = client.get_default_database()
    yield service
    client.close()
    if service.executor.running():
        service.stop()


@pytest.fixture
def own_nats(tmp_path):
    """A nats-server with JetStream on disk, so a restart keeps the stream, its messages and the durable."""
    if not shutil.which("nats-server"):
        _unavailable("nats-server")
    port = free_port()
    store = tmp_path / "nats"
    store.mkdir()
    service = Service(f"nats://127.0.0.1:{port}", nats_executor(port, str(store)))
    service.start()
    yield service
    if service.executor.running():
        service.stop()


@pytest.fixture
def own_redis():
    if not shutil.which("redis-server"):
        _unavailable("redis-server")
    port = free_port()
    service = Service(f"redis://127.0.0.1:{port}/0", redis_executor(port))
    service.start()
    yield service
    if service.executor.running():
        service.stop()


def bind(options: ConsumerOptions) -> None:
    """Create the stream and the durable before anything is published, as a deployed consumer would have."""

    async def run() -> None:
        nc = await nats.connect(options.nats_url)
        try:
            js = nc.jetstream()
            await ensure_durable(js, await ensure_stream(js, options), options)
        finally:
            await nc.close()

    asyncio.run(run())


def jetstream_state(options: ConsumerOptions) -> tuple[int, int, int]:
    """(messages in the stream, not yet delivered, delivered but not acked) of the durable."""

    async def run() -> tuple[int, int, int]:
        nc = await nats.connect(options.nats_url, connect_timeout=2, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            stream = await js.stream_info(options.stream)
            info = await js.consumer_info(options.stream, options.durable)
            return stream.state.messages, info.num_pending, info.num_ack_pending
        finally:
            await nc.close()

    return asyncio.run(run())


@pytest.fixture
def pipeline(own_mongo, own_nats, subprocess_database, tmp_path):
    """The consumer's wiring over the test's own servers: a unique subject, stream and durable, and
    `pipeline.consumer(**env)` to start `manage.py consume` subprocesses (all killed afterwards)."""
    name = uuid.uuid4().hex[:10]
    options = ConsumerOptions(
        nats_url=own_nats.url,
        subject=f"resilience.{name}.ws",
        stream=f"RESILIENCE_{name}",
        durable=f"dm-{name}",
        ack_wait=5.0,
    )
    started: list[subprocess.Popen] = []

    def environment(**extra: str) -> dict:
        return os.environ | {
            "DATABASE_URL": subprocess_database,
            "MONGODB_URL": own_mongo.url,
            "MONGODB_TIMEOUT_MS": "500",
            "NATS_URL": options.nats_url,
            "NATS_CONSUMER_SUBJECT": options.subject,
            "NATS_STREAM_NAME": options.stream,
            "NATS_DURABLE_NAME": options.durable,
            "NATS_ACK_WAIT_SECONDS": str(options.ack_wait),
            "CONSUMER_BATCH_SIZE": "200",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def consumer(*, metrics_port: int = 0, **extra: str) -> subprocess.Popen:
        log = (tmp_path / f"consumer-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "consume", "--metrics-port", str(metrics_port)],
            cwd=PROJECT,
            env=environment(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    def replay(capture: Path, *, rate: float, limit: int | None = None) -> subprocess.Popen:
        command = [sys.executable, "manage.py", "replay", str(capture), "--rate", str(rate)]
        if limit is not None:
            command += ["--limit", str(limit)]
        process = subprocess.Popen(
            command, cwd=PROJECT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    bind(options)
    yield Pipeline(options=options, database=own_mongo.database, consumer=consumer, replay=replay, logs=tmp_path)
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Pipeline:
    options: ConsumerOptions
    database: object
    consumer: object
    replay: object
    logs: Path

    def state(self) -> tuple[int, int, int]:
        return jetstream_state(self.options)

    def stored(self) -> int:
        database = self.database
        return sum(database[name].estimated_document_count() for name in database.list_collection_names())

    def consumer_log(self, index: int) -> str:
        return (self.logs / f"consumer-{index}.log").read_text(errors="replace")[-3000:]
