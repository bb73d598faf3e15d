"""`make run` and one Ctrl-C: every process stops in order, within 30 s, with no ERROR line, and status 0.

This runs what `make run` runs (migrate, then `supervisord -c supervisord.conf`) on free ports with its own var
directory, waits until the web answers and the worker, beat and consumer are up, then sends one SIGINT to the
runner's process group, as a terminal's Ctrl-C does. It takes about a minute.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from petrosa_dm.testing.services import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
STOP_WITHIN = 30.0
pytestmark = pytest.mark.timeout(240)


def _wait_for(predicate, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def run_env(tmp_path):
    if not shutil.which("nats-server"):
        if os.environ.get("DM_REQUIRE_SERVICES") == "1":
            pytest.fail("nats-server is required (DM_REQUIRE_SERVICES=1)")
        pytest.skip("nats-server not installed (apt-get install nats-server)")
    var = tmp_path / "var"
    for sub in ("mongo", "nats", "celery-broker"):
        (var / sub).mkdir(parents=True)
    mongo_port, nats_port, api_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # The run uses its own stores and the embedded defaults, not the test run's services.
        if key not in ("MONGODB_URL", "NATS_URL", "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DM_SERVICE")
    }
    env.update(
        DM_VAR_DIR=str(var),
        DM_MONGO_PORT=str(mongo_port),
        DM_NATS_PORT=str(nats_port),
        API_PORT=str(api_port),
        DM_WITH_NATS="true",
        MONGODB_URL=f"mongodb://127.0.0.1:{mongo_port}/petrosa_dm",
        NATS_URL=f"nats://127.0.0.1:{nats_port}",
        CONSUMER_METRICS_PORT=str(free_port()),
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    return env, api_port


def test_one_sigint_stops_every_process_in_order_without_errors(run_env):
    env, api_port = run_env
    runner = subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-c", str(ROOT / "supervisord.conf")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(runner.stdout), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{api_port}/health/liveness"), seconds=90, what="the web")
        text = lambda: "".join(lines)  # noqa: E731
        _wait_for(lambda: 'ready."' in text(), seconds=60, what="the worker")
        _wait_for(lambda: "consuming" in text(), seconds=60, what="the consumer")
        _wait_for(lambda: "beat: Starting" in text(), seconds=30, what="beat")
        time.sleep(2)
        sent = time.monotonic()
        os.killpg(runner.pid, signal.SIGINT)  # one Ctrl-C
        status = runner.wait(timeout=STOP_WITHIN + 30)
        took = time.monotonic() - sent
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    Path(os.environ.get("DM_RUN_LOG", "/dev/null")).write_text(output)
    assert status == 0, output[-4000:]
    assert took < STOP_WITHIN, f"stopped in {took:.1f} s"
    errors = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
    # Every process logs the same JSON keys.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {record["service"] for record in records} >= {"web", "worker", "beat", "consumer"}
    assert all({"time", "level", "logger", "service", "message"} <= record.keys() for record in records)
    log = (Path(env["DM_VAR_DIR"]) / "supervisord.log").read_text()
    # Ordered: every service process stopped before either store was asked to.
    stopped = [line.split("stopped: ")[1].split(" ")[0] for line in log.splitlines() if "stopped: " in line]
    assert set(stopped) == {"web", "worker", "beat", "consumer", "mongo", "nats"}, log[-3000:]
    assert max(stopped.index(name) for name in ("web", "worker", "beat", "consumer")) < min(
        stopped.index("mongo"), stopped.index("nats")
    ), log[-3000:]
    assert "SIGKILL" not in log, log[-3000:]
