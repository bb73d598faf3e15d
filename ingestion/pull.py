"""Batches from a JetStream pull consumer, kept flowing.

nats-py's `PullSubscription.fetch` waits for each message of a batch with a new task and timer (about 12,000
messages/s on the reference machine, below the consumer's target on its own), so this module makes the pull
requests itself with nats-py's public API: a pull request is a publish to
`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` whose reply subject is one of our inboxes, and the messages then
arrive on that inbox through an ordinary subscription.

Requests are kept ahead of the consumer: up to `prefetch` batches are asked for at any time (the batches in the
buffer included), each request on its own reply subject so that its status messages (408 expired, 409 and so on)
end exactly that request. While one batch is parsed and written, the next ones are already on their way, so the
consumer never waits a round trip for work. `fetch()` returns as soon as a batch is full, or `linger` after the
first message of a partial batch, so a quiet stream is still written within milliseconds.
"""

import asyncio
import contextlib
import itertools

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

STATUS = "Status"
HEARTBEAT = "100"
# A pull request the server never answered (a reconnect in between) is given up this long after it expired.
EXPIRY_MARGIN = 0.5


class PullFetcher:
    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        consumer: str,
        batch_size: int,
        linger: float,
        expires: float,
        prefetch: int = 2,
    ):
        self.nc = nc
        self.batch_size = batch_size
        self.linger = linger
        self.expires = expires
        self.prefetch = max(prefetch, 1)
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._request = orjson.dumps({"batch": batch_size, "expires": int(expires * 1e9)})
        self._buffer: list[Msg] = []
        # Open pull requests by reply token: [messages it may still deliver, loop time it is given up at].
        self._requests: dict[str, list] = {}
        self._tokens = itertools.count()
        self._arrived = asyncio.Event()
        self._inbox = ""
        self._subscription: Subscription | None = None
        self._stopping = False

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        self._subscription = await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_message)

    @property
    def _open(self) -> int:
        """Messages the open requests may still deliver."""
        return sum(request[0] for request in self._requests.values())

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(STATUS) if headers else None
        if status is None:
            self._buffer.append(msg)
            for token, request in self._requests.items():
                request[0] -= 1
                if request[0] <= 0:
                    del self._requests[token]
                break
        elif status != HEARTBEAT:
            # 404 no messages, 408 expired, 409 consumer changes: that request is over.
            self._requests.pop(msg.subject.rpartition(".")[2], None)
        buffered = len(self._buffer)
        if buffered == 1 or buffered >= self.batch_size or not self._requests:
            self._arrived.set()

    async def fetch(self) -> list[Msg]:
        """Up to batch_size messages; an empty list when none arrived within `expires`."""
        await self._keep_requesting()
        if not self._buffer:
            await self._wait(self.expires)
        if self._buffer and len(self._buffer) < self.batch_size and self._requests:
            await self._wait(self.linger)
        batch, self._buffer = self._buffer[: self.batch_size], self._buffer[self.batch_size :]
        if await self._keep_requesting():
            # Let nats-py's flusher send the requests now, before the caller spends its time on this batch.
            await asyncio.sleep(0)
        return batch

    async def _keep_requesting(self) -> bool:
        """Ask for more until `prefetch` batches are buffered or on their way; True when a request was made."""
        if self._stopping:
            return False
        loop = asyncio.get_running_loop()
        now = loop.time()
        for token in [token for token, (_, deadline) in self._requests.items() if deadline <= now]:
            del self._requests[token]
        requested = False
        while len(self._buffer) + self._open < self.prefetch * self.batch_size:
            token = str(next(self._tokens))
            self._requests[token] = [self.batch_size, now + self.expires + EXPIRY_MARGIN]
            await self.nc.publish(self._next_subject, self._request, reply=f"{self._inbox}.{token}")
            requested = True
        return requested

    async def _wait(self, timeout: float) -> None:
        self._arrived.clear()
        if self._buffer and (len(self._buffer) >= self.batch_size or not self._requests):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)

    async def stop(self) -> list[Msg]:
        """Stop receiving; returns the messages received but not handed out yet (the caller still owns them).

        The open pull requests are let run out first (at most `expires`): messages the server sends for them
        after we unsubscribed would count as delivered to us and wait `ack_wait` before going to another replica."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        while self._requests:
            deadline = max(deadline for _, deadline in self._requests.values())
            if loop.time() >= deadline:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(deadline - loop.time(), 0.01))
        self._requests.clear()
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        leftover, self._buffer = self._buffer, []
        return leftover
