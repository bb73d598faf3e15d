"""Batches from a JetStream pull consumer, kept flowing.

nats-py's `PullSubscription.fetch` waits for each message of a batch with a new task and timer (about 12,000
messages/s on the reference machine, below the consumer's target on its own), so this module makes the pull
requests itself with nats-py's public API: a pull request is a publish to
`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` whose reply subject is our inbox, and the messages then arrive on
that inbox through an ordinary subscription. One request for up to a batch is kept open at a time; `fetch()`
returns as soon as a batch is full, or `linger` after the first message of a partial batch, so a quiet stream is
still written within milliseconds. The next request is made when the current one is used up, before the batch is
handed on, so messages keep arriving while the previous batch is parsed and written.
"""

import asyncio
import contextlib

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

STATUS = "Status"
HEARTBEAT = "100"
# A pull request the server never answered (a reconnect in between) is given up this long after it expired.
EXPIRY_MARGIN = 0.5


class PullFetcher:
    def __init__(self, nc: Client, *, stream: str, consumer: str, batch_size: int, linger: float, expires: float):
        self.nc = nc
        self.batch_size = batch_size
        self.linger = linger
        self.expires = expires
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._request = orjson.dumps({"batch": batch_size, "expires": int(expires * 1e9)})
        self._buffer: list[Msg] = []
        self._open = 0  # messages the open pull request may still deliver
        self._deadline = 0.0
        self._arrived = asyncio.Event()
        self._inbox = ""
        self._subscription: Subscription | None = None
        self._stopping = False

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        self._subscription = await self.nc.subscribe(self._inbox, cb=self._on_message)

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(STATUS) if headers else None
        if status is None:
            self._buffer.append(msg)
            self._open -= 1
        elif status != HEARTBEAT:
            self._open = 0  # 404 no messages, 408 request expired, 409 consumer changes: this request is over
        if len(self._buffer) == 1 or len(self._buffer) >= self.batch_size or self._open <= 0:
            self._arrived.set()

    async def fetch(self) -> list[Msg]:
        """Up to batch_size messages; an empty list when none arrived within `expires`."""
        await self._keep_requesting()
        if not self._buffer:
            await self._wait(self.expires)
        if self._buffer and len(self._buffer) < self.batch_size and self._open > 0:
            await self._wait(self.linger)
        batch, self._buffer = self._buffer[: self.batch_size], self._buffer[self.batch_size :]
        await self._keep_requesting()
        return batch

    async def _keep_requesting(self) -> None:
        loop = asyncio.get_running_loop()
        if self._stopping or (self._open > 0 and loop.time() < self._deadline):
            return
        if len(self._buffer) >= self.batch_size:
            return  # enough in hand; ask again when it is taken
        self._open = self.batch_size
        self._deadline = loop.time() + self.expires + EXPIRY_MARGIN
        await self.nc.publish(self._next_subject, self._request, reply=self._inbox)

    async def _wait(self, timeout: float) -> None:
        self._arrived.clear()
        if self._buffer and (len(self._buffer) >= self.batch_size or self._open <= 0):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)

    async def stop(self) -> list[Msg]:
        """Stop receiving; returns the messages received but not handed out yet (the caller still owns them).

        The open pull request is let run out first (at most `expires`): messages the server sends for it after
        we unsubscribed would count as delivered to us and wait `ack_wait` before going to another replica."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        while self._open > 0 and loop.time() < self._deadline:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(self._deadline - loop.time(), 0.01))
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        leftover, self._buffer = self._buffer, []
        return leftover
