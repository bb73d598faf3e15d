"""What `make run` runs (migrate, then `supervisord -c supervisord.conf`), on free ports with its own var directory,
for the tests that drive the whole service as a person would."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from petrosa_dm.testing.services import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# The run uses its own stores and the embedded defaults, not the test run's services.
NOT_INHERITED = ("MONGODB_URL", "NATS_URL", "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DM_SERVICE")


def wait_for(predicate, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class RunningService:
    env: dict
    api_port: int
    runner: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def output(self) -> str:
        return "".join(self.lines)

    def start(self) -> None:
        self.runner = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", str(ROOT / "supervisord.conf")],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        threading.Thread(target=lambda: self.lines.extend(self.runner.stdout), daemon=True).start()

    def wait_until_up(self) -> None:
        wait_for(lambda: answers(f"{self.api}/health/liveness"), seconds=90, what="the web")
        wait_for(lambda: 'ready."' in self.output(), seconds=60, what="the worker")
        wait_for(lambda: "consuming" in self.output(), seconds=60, what="the consumer")
        wait_for(lambda: "beat: Starting" in self.output(), seconds=30, what="beat")

    def stop(self) -> None:
        """Stop the service as supervisord stops it, every program in order; SIGKILL only past a minute.

        supervisord gives each program a process group of its own, so killing supervisord's group would leave the
        web, worker, beat, consumer and stores running after the test."""
        if self.runner is None or self.runner.poll() is not None:
            return
        self.runner.terminate()
        try:
            self.runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.runner.pid, signal.SIGKILL)
            self.runner.wait()


def prepared_service(tmp_path: Path) -> RunningService:
    """Migrated, with an admin, not started yet. Skips (or fails under DM_REQUIRE_SERVICES) without nats-server."""
    if not shutil.which("nats-server"):
        if os.environ.get("DM_REQUIRE_SERVICES") == "1":
            pytest.fail("nats-server is required (DM_REQUIRE_SERVICES=1)")
        pytest.skip("nats-server not installed (apt-get install nats-server)")
    var = tmp_path / "var"
    for sub in ("mongo", "nats", "celery-broker"):
        (var / sub).mkdir(parents=True)
    mongo_port, nats_port, api_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        DM_VAR_DIR=str(var),
        DM_MONGO_PORT=str(mongo_port),
        DM_NATS_PORT=str(nats_port),
        API_PORT=str(api_port),
        DM_WITH_NATS="true",
        MONGODB_URL=f"mongodb://127.0.0.1:{mongo_port}/petrosa_dm",
        NATS_URL=f"nats://127.0.0.1:{nats_port}",
        CONSUMER_METRICS_PORT=str(free_port()),
        DM_ADMIN_PASSWORD="a-long-walkthrough-password",
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
    )
    for command in (["migrate", "--noinput", "--verbosity", "0"], ["ensure_admin"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    return RunningService(env=env, api_port=api_port)
