import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from ingestion import services
from ingestion.consumer import ConsumerOptions

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jetstream(nats_url, mongo_db, settings):
    """A subject, stream and durable of this test's own; the stream is deleted afterwards."""
    name = uuid.uuid4().hex[:12]
    settings.NATS_URL = nats_url
    settings.NATS_CONSUMER_SUBJECT = f"test.{name}.ws"
    settings.NATS_STREAM_NAME = f"TEST_{name}"
    settings.NATS_DURABLE_NAME = f"dm-{name}"
    options = ConsumerOptions.from_settings(batch_size=200, linger=0.01)
    yield options
    services.forget_indexes()
    services.forget_lineage()
    asyncio.run(_delete_stream(nats_url, options.stream))


async def _delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def consumer_process(jetstream, subprocess_database, tmp_path):
    """Start `manage.py consume` subprocesses against this test's services; all are killed afterwards."""
    started: list[subprocess.Popen] = []

    def start(*, metrics_port: int = 0, **env: str) -> subprocess.Popen:
        environment = os.environ | {
            "DATABASE_URL": subprocess_database,
            "NATS_URL": jetstream.nats_url,
            "NATS_CONSUMER_SUBJECT": jetstream.subject,
            "NATS_STREAM_NAME": jetstream.stream,
            "NATS_DURABLE_NAME": jetstream.durable,
            "CONSUMER_BATCH_SIZE": "100",
            "CONSUMER_LINGER_MS": "10",
            "PYTHONUNBUFFERED": "1",
        }
        log = (tmp_path / f"consumer-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "consume", "--metrics-port", str(metrics_port)],
            cwd=PROJECT,
            env=environment | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
