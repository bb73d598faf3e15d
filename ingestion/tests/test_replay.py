import asyncio
import gzip
import json

import nats
import orjson
from django.core.management import call_command

from ingestion.replay import Capture

from . import samples

CRYPTOFEED_LINES = [
    b"wss://fstream.binance.com/stream?streams=btcusdt@trade <-> 1626992740.179554",
    b"1626992741.06217: " + samples.BOOK_TICKER,
    b"1626992741.081672: " + samples.DEPTH_DIFF,
]
HFTBACKTEST_LINES = [b"1723161255088176367 " + samples.TRADE, b"1723161255088169167 " + samples.BOOK_TICKER]


def test_captures_yield_their_json_with_receive_times_and_url_lines_removed(tmp_path):
    cryptofeed = tmp_path / "cryptofeed.txt"
    cryptofeed.write_bytes(b"\n".join(CRYPTOFEED_LINES) + b"\n\n")
    hftbacktest = tmp_path / "hft.gz"
    hftbacktest.write_bytes(gzip.compress(b"\n".join(HFTBACKTEST_LINES)))
    bare = tmp_path / "bare.jsonl"
    bare.write_bytes(samples.TRADE + b"\n" + b"[1, 2]\n")

    first = Capture(cryptofeed)
    assert list(first.messages()) == [samples.BOOK_TICKER, samples.DEPTH_DIFF]
    assert first.skipped == 2  # the URL line and the empty line
    assert list(Capture(hftbacktest).messages()) == [samples.TRADE, samples.BOOK_TICKER]
    assert list(Capture(bare).messages()) == [samples.TRADE, b"[1, 2]"]


REST_DEPTH = (
    b'{"lastUpdateId":5123107852948,"E":1723161256501,"T":1723161256493,'
    b'"bids":[["61800.20","2.909"]],"asks":[["61800.30","1.2"]]}'
)


def test_recorded_rest_depth_bodies_are_left_out_of_the_messages_and_served_per_symbol(tmp_path, nats_url, capsys):
    # hftbacktest records the REST snapshot its book started from among the stream's messages; the body names no
    # symbol: it is the depth stream's it was recorded among (here recorded before any depth message).
    lines = [b"1 " + samples.TRADE, b"2 " + REST_DEPTH, b"3 " + samples.DEPTH_DIFF, b"4 " + samples.BOOK_TICKER]
    path = tmp_path / "hft.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines)))

    capture = Capture(path)
    assert list(capture.messages()) == [samples.TRADE, samples.DEPTH_DIFF, samples.BOOK_TICKER]
    assert capture.snapshots == 1
    symbol = json.loads(samples.DEPTH_DIFF)["data"]["s"]
    assert Capture(path).depth_snapshots() == {symbol: [json.loads(REST_DEPTH)]}
    call_command("replay", str(path), "--subject", "test.replay.rest", "--nats-url", nats_url)
    said = capsys.readouterr().out
    assert "published 3 messages" in said and "left out 1 recorded REST depth snapshot (" in said


async def _collect(nats_url: str, subject: str, publish) -> list[bytes]:
    nc = await nats.connect(nats_url)
    received: list[bytes] = []

    async def append(msg) -> None:
        received.append(msg.data)

    subscription = await nc.subscribe(subject, cb=append)
    await nc.flush()
    await asyncio.to_thread(publish)
    await asyncio.sleep(0.5)  # core NATS: what arrives within this time is what was published
    await subscription.unsubscribe()
    await nc.close()
    return received


def test_replay_publishes_each_message_optionally_in_the_socket_clients_envelope(nats_url, tmp_path, capsys):
    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"\n".join(CRYPTOFEED_LINES))

    def run(*options):
        return lambda: call_command(
            "replay", str(capture), "--subject", "test.replay", "--nats-url", nats_url, *options
        )

    plain = asyncio.run(_collect(nats_url, "test.replay", run()))
    wrapped = asyncio.run(_collect(nats_url, "test.replay", run("--envelope", "--limit", "1", "--rate", "100")))

    assert plain == [samples.BOOK_TICKER, samples.DEPTH_DIFF]
    [envelope] = [orjson.loads(message) for message in wrapped]
    assert envelope["stream"] == "btcusdt@bookTicker"
    assert envelope["data"] == json.loads(samples.BOOK_TICKER)["data"]
    assert envelope["source"] == "binance-websocket" and envelope["version"] == "1.0"
    assert envelope["timestamp"].endswith("Z") and len(envelope["message_id"]) == 36
    assert "published 1 messages" in capsys.readouterr().out
