"""`make run` and one Ctrl-C: every process stops in order, within 30 s, with no ERROR line, and status 0.

This runs what `make run` runs (tests/run_service.py), waits until the web answers and the worker, beat and
consumer are up, then sends one SIGINT to the runner's process group, as a terminal's Ctrl-C does. About a minute.
"""

import contextlib
import fcntl
import json
import os
import pty
import signal
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest

from .run_service import ROOT, prepared_service

STOP_WITHIN = 30.0
pytestmark = pytest.mark.timeout(240)


def test_one_sigint_stops_every_process_in_order_without_errors(tmp_path):
    service = prepared_service(tmp_path)
    service.start()
    try:
        service.wait_until_up()
        time.sleep(2)
        sent = time.monotonic()
        os.killpg(service.runner.pid, signal.SIGINT)  # one Ctrl-C
        status = service.runner.wait(timeout=STOP_WITHIN + 30)
        took = time.monotonic() - sent
    finally:
        service.stop()
    time.sleep(0.5)  # the reader thread takes the last lines
    output = service.output()
    assert status == 0, output[-4000:]
    assert took < STOP_WITHIN, f"stopped in {took:.1f} s"
    errors = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
    # Every process logs the same JSON keys.
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {record["service"] for record in records} >= {"web", "worker", "beat", "consumer"}
    assert all({"time", "level", "logger", "service", "message"} <= record.keys() for record in records)
    log = (Path(service.env["DM_VAR_DIR"]) / "supervisord.log").read_text()
    # Ordered: every service process stopped before either store was asked to.
    stopped = [line.split("stopped: ")[1].split(" ")[0] for line in log.splitlines() if "stopped: " in line]
    assert set(stopped) == {"web", "worker", "beat", "consumer", "mongo", "nats"}, log[-3000:]
    last_service = max(stopped.index(name) for name in ("web", "worker", "beat", "consumer"))
    assert last_service < min(stopped.index("mongo"), stopped.index("nats")), log[-3000:]
    assert "SIGKILL" not in log, log[-3000:]


def test_make_run_and_one_ctrl_c_at_its_terminal_exits_0(tmp_path):
    """The whole `make run` on a terminal of its own (a pty), stopped by typing Ctrl-C, as a person would."""
    service = prepared_service(tmp_path)
    master, terminal = pty.openpty()

    def take_the_terminal() -> None:  # after setsid: the pty becomes make's controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    make = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=service.env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=take_the_terminal,
    )
    os.close(terminal)

    def read() -> None:  # what the terminal shows, where wait_until_up looks for the processes' start lines
        with contextlib.suppress(OSError):  # EIO once every process holding the terminal has exited
            while chunk := os.read(master, 65536):
                service.lines.append(chunk.decode(errors="replace"))

    threading.Thread(target=read, daemon=True).start()
    try:
        service.wait_until_up()
        time.sleep(2)
        sent = time.monotonic()
        os.write(master, b"\x03")  # one Ctrl-C typed at the terminal
        status = make.wait(timeout=STOP_WITHIN + 30)
        took = time.monotonic() - sent
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    time.sleep(0.5)  # the reader takes the last lines
    output = service.output()
    assert status == 0, output[-4000:]
    assert took < STOP_WITHIN, f"stopped in {took:.1f} s"
    assert "Interrupt" not in output and "ERROR" not in output, output[-4000:]
