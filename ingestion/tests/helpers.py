"""Helpers for tests that run the consumer against real NATS and MongoDB."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

import nats
from nats.js.errors import NotFoundError

from ingestion.consumer import Consumer, ConsumerOptions, ensure_durable, ensure_stream

WAIT_SECONDS = 60


async def bind(options: ConsumerOptions) -> None:
    """Create the stream and durable first, so messages published before the consumer starts are kept."""
    nc = await nats.connect(options.nats_url)
    try:
        js = nc.jetstream()
        stream = await ensure_stream(js, options)
        await ensure_durable(js, stream, options)
    finally:
        await nc.close()


async def publish(options: ConsumerOptions, payloads: Iterable[bytes]) -> int:
    nc = await nats.connect(options.nats_url)
    count = 0
    try:
        for payload in payloads:
            await nc.publish(options.subject, payload)
            count += 1
        await nc.flush()
    finally:
        await nc.close()
    return count


async def consumer_state(options: ConsumerOptions) -> tuple[int, int, int]:
    """(messages in the stream, not yet delivered, delivered but not acked) for this test's durable."""
    nc = await nats.connect(options.nats_url)
    try:
        js = nc.jetstream()
        stream = await js.stream_info(options.stream)
        try:
            info = await js.consumer_info(options.stream, options.durable)
        except NotFoundError:
            return stream.state.messages, stream.state.messages, 0
        return stream.state.messages, info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout: float = WAIT_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.1)


async def wait_all_acked(options: ConsumerOptions, published: int, *, timeout: float = WAIT_SECONDS) -> None:
    async def done() -> bool:
        messages, pending, ack_pending = await consumer_state(options)
        return messages >= published and pending == 0 and ack_pending == 0

    await wait_until(done, timeout=timeout, what=f"{published} messages acked")


async def consume(options: ConsumerOptions, payload_batches: Iterable[list[bytes]]) -> Consumer:
    """Run a consumer in-process; publish each batch of payloads and wait until all of it is acked; stop."""
    await bind(options)
    consumer = Consumer(options)
    running = asyncio.create_task(consumer.run())
    published = 0
    try:
        for payloads in payload_batches:
            published += await publish(options, payloads)
            await wait_all_acked(options, published)
        assert not running.done(), "the consumer stopped by itself"
    finally:
        consumer.stop()
        await asyncio.wait_for(running, timeout=30)
    return consumer


def stored(database, collection: str, sort: str = "_id") -> list[dict]:
    return list(database[collection].find({}, {"_id": 0, "ingested_at": 0}).sort(sort))
