"""The pull fetcher against a real JetStream server: batches, prefetch, and the hand-back at stop."""

import asyncio

import nats

from ingestion.pull import PullFetcher

from .helpers import bind, consumer_state, publish, wait_until


def trade(trade_id: int) -> bytes:
    return b'{"e":"trade","E":1723075200000,"T":1723075200000,"s":"BTCUSDT","t":%d,"p":"1","q":"1","m":true}' % trade_id


async def _fetch_once_then_look(options, *, batch_size: int, prefetch: int) -> tuple[list, int, list]:
    await bind(options)
    await publish(options, [trade(number) for number in range(5 * batch_size)])
    nc = await nats.connect(options.nats_url)
    fetcher = PullFetcher(
        nc,
        stream=options.stream,
        consumer=options.durable,
        batch_size=batch_size,
        linger=0.01,
        expires=1.0,
        prefetch=prefetch,
    )
    await fetcher.start()
    batch = await fetcher.fetch()
    expected_in_flight = len(batch) + prefetch * batch_size

    async def prefetched() -> bool:
        return (await consumer_state(options))[2] >= expected_in_flight

    await wait_until(prefetched, timeout=10, what="the prefetched batches to be delivered")
    await asyncio.sleep(0.2)  # time for any over-delivery to show
    in_flight = (await consumer_state(options))[2]
    leftover = await fetcher.stop()
    await nc.close()
    return batch, in_flight, leftover


def test_the_next_batches_are_on_their_way_while_one_is_handled(jetstream):
    batch, in_flight, leftover = asyncio.run(_fetch_once_then_look(jetstream, batch_size=100, prefetch=3))

    assert len(batch) == 100
    # Delivered and unacked: the batch in hand plus three more buffered or on their way, and no more.
    assert in_flight == 400
    # What was prefetched but not handed out is handed back at stop, so the caller can still write and ack it.
    assert len(leftover) == 300
    assert {msg.metadata.sequence.stream for msg in batch + leftover} == set(range(1, 401))
