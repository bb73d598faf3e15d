"""Fixtures of the contract suite: recorded data loaded through the real consumer (NATS JetStream -> store)."""

import asyncio

import pytest

from ingestion.tests.conftest import jetstream  # noqa: F401  (the test's own stream and durable)
from ingestion.tests.helpers import consume


@pytest.fixture
def load(shared_data, jetstream):  # noqa: F811
    """Publish messages to this test's subject and wait until the in-process consumer has stored them all."""

    def publish(*batches: list[bytes]) -> None:
        asyncio.run(consume(jetstream, [batch for batch in batches if batch]))

    return publish
