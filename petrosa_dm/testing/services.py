"""Start the services a test run needs when the environment points at none.

`make test` runs `python -m petrosa_dm.testing.services pytest ...`: MongoDB (the embedded SecantusDB server, in
memory), NATS with JetStream and Redis are started on free loopback ports when their URL is not already set and
their binary is installed, the URLs are exported to the test process, and everything is stopped afterwards.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from mirakuru import TCPExecutor


def free_port() -> int:

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# `--standalone`: no single-node replica set, hence no oplog. The service uses neither change streams nor
# transactions, and writing every insert twice (collection and oplog) costs the embedded store a fifth of its rate.
MONGO_FLAGS = ("--standalone", "--log-level", "WARNING")


def mongo_executor(port: int, storage: str = ":memory:") -> TCPExecutor:
    binary = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    command = [binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path", storage, *MONGO_FLAGS]
    return TCPExecutor(command, host="127.0.0.1", port=port, timeout=60)


def nats_executor(port: int, store_dir: str) -> TCPExecutor:
    command = [
        "nats-server",
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-sd",
        store_dir,
        "-l",
        f"{store_dir}/nats.log",
    ]
    # nats-server exits with status 1 on SIGTERM; that is its normal shutdown.
    return TCPExecutor(command, host="127.0.0.1", port=port, timeout=30, expected_returncode=1)


def redis_executor(port: int) -> TCPExecutor:
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    return TCPExecutor(command, host="127.0.0.1", port=port, timeout=30)


def start_missing(workdir: str) -> list[TCPExecutor]:
    started: list[TCPExecutor] = []
    # Consumer processes started by tests must not ask the real Binance for depth snapshots (issue 18); the book
    # tests turn the keeper on in-process, against the local Binance test server.
    os.environ.setdefault("BOOKS_KEEPER_ENABLED", "false")
    if not os.environ.get("MONGODB_URL"):
        port = free_port()
        started.append(mongo_executor(port).start())
        os.environ["MONGODB_URL"] = f"mongodb://127.0.0.1:{port}/petrosa_dm_test"
        print(f"test services: embedded MongoDB-compatible server on 127.0.0.1:{port}")
    if not os.environ.get("NATS_URL") and shutil.which("nats-server"):
        port = free_port()
        started.append(nats_executor(port, tempfile.mkdtemp(dir=workdir)).start())
        os.environ["NATS_URL"] = f"nats://127.0.0.1:{port}"
        print(f"test services: nats-server with JetStream on 127.0.0.1:{port}")
    if not os.environ.get("REDIS_URL") and shutil.which("redis-server"):
        port = free_port()
        started.append(redis_executor(port).start())
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"test services: redis-server on 127.0.0.1:{port}")
    return started


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="petrosa-test-") as workdir:
        started = start_missing(workdir)
        try:
            return subprocess.call(argv)
        finally:
            for executor in reversed(started):
                executor.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
