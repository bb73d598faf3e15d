"""The web service as deployed (gunicorn, several workers with several threads), started by a test."""

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from petrosa_dm.testing.services import free_port

PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def gunicorn(log: Path, *, workers: int = 2, threads: int = 4, **env: str):
    """Yield the base URL of a gunicorn serving the project with `env` over the test's environment."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "petrosa_dm.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "--timeout", "120"]
    environment = os.environ | {"LOG_LEVEL": "WARNING"} | env
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health/liveness", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(log.read_text()[-3000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
