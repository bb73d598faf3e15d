"""The README's walkthrough runs as printed: each ```sh block of "Ten minutes on real data", in order, against a
service this test starts the way `make run` does (tests/run_service.py).

Only the ports differ: the blocks' `127.0.0.1:8000` (web) and `8900` (the stand-in exchange) become free ports, so
the test never meets a `make run` someone else left running. Bounded: each block gets 5 minutes, the whole test 15.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from petrosa_dm.testing.services import free_port

from .run_service import ROOT, prepared_service, wait_for

pytestmark = [pytest.mark.shared_data, pytest.mark.timeout(900)]
CAPTURE = ROOT.parent / "shared" / "data" / "binance" / "ws" / "captures" / "hftbacktest_usdm_btcusdt_20240808.gz"


def walkthrough_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Ten minutes on real data", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_the_readme_is_under_200_lines_and_uses_the_virtualenv():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    commands = "\n".join(walkthrough_blocks())
    assert "python manage.py" not in commands.replace(".venv/bin/python manage.py", "")


def test_every_walkthrough_command_runs_as_printed(tmp_path):
    if not CAPTURE.exists():
        pytest.skip(f"recorded capture absent: {CAPTURE}")
    blocks = walkthrough_blocks()
    assert blocks[0].strip() == "make run"  # the service: started below as make run starts it
    service = prepared_service(tmp_path)
    exchange_port = free_port()
    service.start()
    sessions = []
    outputs = []
    try:
        service.wait_until_up()
        exports = []  # a terminal keeps what earlier steps exported
        for index, block in enumerate(blocks[1:]):
            script = "\n".join([*exports, block]).replace("127.0.0.1:8000", f"127.0.0.1:{service.api_port}")
            script = script.replace("8900", str(exchange_port))
            exports += [line for line in block.splitlines() if line.startswith("export ")]
            log = tmp_path / f"step-{index}.log"
            with log.open("w") as sink:
                # A file, not a pipe: a background helper (the stand-in exchange) keeps its output open.
                process = subprocess.Popen(
                    ["bash", "-e", "-c", script],
                    cwd=ROOT,
                    env=service.env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # background helpers stay in this group, stopped below
                )
                sessions.append(process.pid)
                process.wait(timeout=300)
            output = log.read_text()
            assert process.returncode == 0, f"{script}\n---\n{output[-3000:]}"
            outputs.append(output)
            if "manage.py replay" in block:
                wait_for(lambda: _trades_settled(service.api), seconds=180, what="the replay to be stored")
        health = get_json(f"{service.api}/health?pair=BTCUSDT&period=1m")
    finally:
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        service.stop()

    _replay, arrive, audit, console, repair, book, analytics = outputs
    assert '"trade_id"' in arrive and "trades_BTCUSDT" in arrive
    assert '"audited":true' in audit.replace(" ", "")
    assert console.strip() == "200"
    assert "succeeded" in repair
    # The first audit finds the two-hour hole; the one after the repair sees it filled.
    assert re.search(r"1 new gaps, 0 filled, 1 open", repair), repair[-2000:]
    assert re.search(r"0 new gaps, 1 filled, 0 open", repair), repair[-2000:]
    # The book from the capture's own snapshot and the replayed updates after it.
    shown = json.loads(book.strip().splitlines()[-1])
    assert shown["metadata"]["state"] == "exact", shown["metadata"]
    assert len(shown["data"]["bids"]) == len(shown["data"]["asks"]) == 3
    assert float(shown["data"]["bids"][0][0]) < float(shown["data"]["asks"][0][0])
    compact = analytics.replace(" ", "")
    assert '"values":[{' in compact  # volatility values computed from the replayed candles
    assert '"data":{"regime":' in compact  # a regime, not "No regime data"
    assert health["datasets"][0]["open_gaps"] == 0


_last = {"count": -1, "since": 0.0}


def _trades_settled(api: str) -> bool:
    """Trades stored and their count unchanged for 3 s: the consumer has caught up with the replay."""
    try:
        body = get_json(f"{api}/data/trades?pair=BTCUSDT&limit=1&start=2024-08-08T00:00:00Z")
    except OSError:
        return False
    count = body["pagination"]["total"]
    now = time.monotonic()
    if count != _last["count"]:
        _last.update(count=count, since=now)
        return False
    return count > 0 and now - _last["since"] >= 3
