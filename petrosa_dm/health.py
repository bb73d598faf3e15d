"""Readiness checks: each component is really asked, with a bounded timeout, and timed.

Probes come often and concurrently (kubelet, load balancers, monitoring), so one result is shared for
READINESS_CACHE_SECONDS and only one check runs at a time; the checks' pool threads close the database connection
they opened, so probing can never use up the database's connections (issue 15, finding 1).
"""

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass

import nats
from django.conf import settings
from django.db import connection, connections
from kombu import Connection

from . import mongo
from .redaction import redact

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ComponentState:
    name: str
    healthy: bool
    latency_ms: float
    required: bool
    error: str = ""

    def as_dict(self) -> dict:
        state = {"status": "healthy" if self.healthy else "unhealthy", "latency_ms": round(self.latency_ms, 2)}
        state["required"] = self.required
        if self.error:
            state["error"] = self.error
        return state


def check_database() -> None:
    # Runs in a pool thread: Django's connections are per thread, so the one opened here is this thread's own
    # and is closed when the check ends (`_run`), never left for the database to time out.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_mongodb() -> None:
    """A real read bounded in time: a frozen or overloaded store may still answer pings from its network thread."""
    mongo.probe_read()


def check_nats() -> None:
    async def probe() -> None:
        client = await nats.connect(
            settings.NATS_URL, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0
        )
        await client.close()

    asyncio.run(asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_SECONDS))


def check_broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "mongodb": check_mongodb,
    "nats": check_nats,
    "broker": check_broker,
}


def _run(name: str, check: Callable[[], None]) -> ComponentState:
    started = time.perf_counter()
    required = name in settings.READINESS_REQUIRED
    try:
        check()
    except Exception as exc:  # any failure of a dependency is its unhealthiness, reported with its text
        error = redact(f"{type(exc).__name__}: {exc}")[:300]
        return ComponentState(name, False, (time.perf_counter() - started) * 1000, required, error)
    finally:
        connections.close_all()  # this pool thread's own database connection, if the check opened one
    return ComponentState(name, True, (time.perf_counter() - started) * 1000, required)


def _collect(name: str, future: Future, deadline: float) -> ComponentState:
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        # A frozen peer can hold a socket open past every driver timeout; the probe must still answer in time.
        required = name in settings.READINESS_REQUIRED
        return ComponentState(name, False, CHECK_TIMEOUT_SECONDS * 1000, required, "timed out")


_lock = threading.Lock()
_cached: tuple[float, tuple[bool, dict[str, ComponentState]]] | None = None  # (checked at, result)


def readiness() -> tuple[bool, dict[str, ComponentState]]:
    """The latest result if younger than READINESS_CACHE_SECONDS, else a fresh one; concurrent probes wait for the
    one check in progress instead of starting their own."""
    global _cached
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < settings.READINESS_CACHE_SECONDS:
            return _cached[1]
        result = check_all()
        _cached = (time.monotonic(), result)
        return result


def forget() -> None:
    """Drop the cached result (tests that change a component's state)."""
    global _cached
    with _lock:
        _cached = None


def check_all() -> tuple[bool, dict[str, ComponentState]]:
    """Run every check concurrently, bounded in time; ready when every required component is healthy."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS))
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    futures = {name: pool.submit(_run, name, check) for name, check in CHECKS.items()}
    states = {name: _collect(name, future, deadline) for name, future in futures.items()}
    pool.shutdown(wait=False)  # a hung check finishes (or times out) in the background
    ready = all(state.healthy for state in states.values() if state.required)
    return ready, states
