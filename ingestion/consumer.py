"""The NATS JetStream consumer: fetch -> parse -> write -> ack, in small replaceable steps.

- Binding: a JetStream stream over the subject (created with bounded retention when no stream covers it) and one
  durable pull consumer, shared by every replica (`ensure_stream`, `ensure_durable`).
- Flow: a fetch loop pulls and parses batches and hands them to a write loop, so the next batch is fetched and
  parsed while the previous one is written (two batches in hand at most). A batch is acked only after all its
  rows and dead letters are written.
- Store down: the write is retried with backoff (tenacity) and never given up; meanwhile every message in hand is
  marked in progress, so JetStream does not hand it to another replica, and fetching pauses (no free slot).
- NATS down: nats-py reconnects with backoff for ever; `data_manager_nats_connection_status` follows it.
- Stop (SIGTERM/SIGINT set a flag): no more fetching; the batches in hand are written and acked, messages
  received meanwhile are written and acked too, and `run()` returns.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from time import perf_counter

import nats
import pymongo
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from petrosa_dm.market import symbols
from petrosa_dm.market.timeutils import utcnow

from . import metrics
from .batches import Batch, batch_parse, payload_record
from .pull import PullFetcher
from .store import WriteResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerOptions:
    nats_url: str
    subject: str
    stream: str
    durable: str
    batch_size: int = 500
    linger: float = 0.02
    fetch_expires: float = 1.0
    ack_wait: float = 30.0
    max_ack_pending: int = 20_000
    stream_max_age: float = 24 * 3600
    stream_max_bytes: int = 2 * 1024**3
    shutdown_grace: float = 20.0
    write_concurrency: int = 4
    keep_books: bool = False  # follow order books, take depth snapshots and checkpoints (books.services.BookKeeper)
    max_deliver: int = 10
    dead_letter_max_raw_bytes: int = 16 * 1024
    dead_letter_max_rejections: int = 100
    max_future_skew: float = 300.0
    store_timeout: float = 30.0

    @classmethod
    def from_settings(cls, **overrides) -> "ConsumerOptions":
        from django.conf import settings

        values = {
            "nats_url": settings.NATS_URL,
            "subject": settings.NATS_CONSUMER_SUBJECT,
            "stream": settings.NATS_STREAM_NAME,
            "durable": settings.NATS_DURABLE_NAME,
            "batch_size": settings.CONSUMER_BATCH_SIZE,
            "linger": settings.CONSUMER_LINGER_MS / 1000,
            "ack_wait": settings.NATS_ACK_WAIT_SECONDS,
            "max_ack_pending": settings.NATS_MAX_ACK_PENDING,
            "stream_max_age": settings.NATS_STREAM_MAX_AGE,
            "stream_max_bytes": settings.NATS_STREAM_MAX_BYTES,
            "shutdown_grace": settings.CONSUMER_SHUTDOWN_GRACE_SECONDS,
            "write_concurrency": settings.CONSUMER_WRITE_CONCURRENCY,
            "max_deliver": settings.NATS_MAX_DELIVER,
            "dead_letter_max_raw_bytes": settings.DEAD_LETTER_MAX_RAW_BYTES,
            "dead_letter_max_rejections": settings.DEAD_LETTER_MAX_REJECTIONS,
            "max_future_skew": settings.INGEST_MAX_FUTURE_SKEW_SECONDS,
            "store_timeout": settings.CONSUMER_STORE_TIMEOUT_MS / 1000,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


# What a sink does with a parsed batch: write it (raising if the store fails) and say what was written.
Sink = Callable[[Batch], Awaitable[WriteResult]]


async def ensure_stream(js: JetStreamContext, options: ConsumerOptions) -> str:
    """The stream holding the subject: an existing one, or a new one with bounded retention."""
    try:
        return await js.find_stream_name_by_subject(options.subject)
    except NotFoundError:
        pass
    await js.add_stream(
        name=options.stream,
        subjects=[options.subject],
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        storage=StorageType.FILE,
        max_age=options.stream_max_age,
        max_bytes=options.stream_max_bytes,
    )
    logger.info("created JetStream stream", extra={"stream": options.stream, "subject": options.subject})
    return options.stream


async def ensure_durable(js: JetStreamContext, stream: str, options: ConsumerOptions) -> None:
    """The durable pull consumer, created if missing; an existing one gets the configured `max_deliver` (a message
    that keeps failing, e.g. by crashing the consumer, must not come back for ever)."""
    try:
        info = await js.consumer_info(stream, options.durable)
    except NotFoundError:
        info = None
    if info is not None:
        if info.config.max_deliver != options.max_deliver:
            config = info.config
            config.max_deliver = options.max_deliver
            try:  # the server updates a durable created again with an editable field changed
                await js.add_consumer(stream, config)
                logger.info("durable consumer updated", extra={"max_deliver": options.max_deliver})
            except nats.errors.Error as exc:
                logger.warning("could not set max_deliver on the existing durable: %s", exc)
        return
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=options.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=options.ack_wait,
            max_ack_pending=options.max_ack_pending,
            max_deliver=options.max_deliver,
            filter_subject=options.subject,
        ),
    )
    logger.info("created durable consumer", extra={"stream": stream, "durable": options.durable})


class Consumer:
    def __init__(self, options: ConsumerOptions, *, sink: Sink | None = None):
        self.options = options
        # Only for parallel writes: with one writer the batch's collections are written in the calling thread.
        self._executor = (
            ThreadPoolExecutor(max_workers=options.write_concurrency, thread_name_prefix="store")
            if options.write_concurrency > 1
            else None
        )
        self.sink: Sink = sink or self.store_batch
        self.books = None
        if options.keep_books:
            from books.services import BookKeeper

            self.books = BookKeeper()
        self._stopping = asyncio.Event()
        self._stop_requested_at: float | None = None
        # True once a batch was left for redelivery at shutdown: a store thread may still be stuck in its write.
        self.abandoned = False
        self._closing = False
        # Batches fetched and not yet acked, by identity (list.remove would compare the messages one by one).
        self._in_hand: dict[int, list[Msg]] = {}
        self._queue: asyncio.Queue[tuple[list[Msg], Batch, float] | None] = asyncio.Queue()
        # Batches in hand: one being written, one fetched and parsed meanwhile. Fetching waits for a free slot, so
        # while the store is slow messages gather in JetStream and the next fetch takes a full batch: big writes
        # instead of many small ones, whose fixed cost would otherwise cap the throughput.
        self._slots = asyncio.Semaphore(2)

    def stop(self) -> None:
        """Ask the consumer to finish the batches in hand and return (safe to call from a signal handler)."""
        if not self._stopping.is_set():
            logger.info("stopping: finishing the batches in hand")
            self._stop_requested_at = perf_counter()
            self._stopping.set()

    async def run(self) -> None:
        nc = await self._connect()
        if nc is None:
            return
        try:
            js = nc.jetstream()
            stream = await ensure_stream(js, self.options)
            await ensure_durable(js, stream, self.options)
            fetcher = PullFetcher(
                nc,
                stream=stream,
                consumer=self.options.durable,
                batch_size=self.options.batch_size,
                linger=self.options.linger,
                expires=self.options.fetch_expires,
            )
            await fetcher.start()
            writer = asyncio.create_task(self._write_loop())
            heartbeat = asyncio.create_task(self._heartbeat())
            try:
                await self._fetch_loop(fetcher)
                # Messages the server sent before it saw us stop are in hand too: written and acked like the rest.
                leftover = await fetcher.stop()
                if leftover:
                    await self._slots.acquire()
                    await self._hand_over(leftover)
            finally:
                await self._queue.put(None)
                await writer
                heartbeat.cancel()
        finally:
            await self._close(nc)
            if self.books is not None:
                await asyncio.to_thread(self.books.close)
            if self._executor is not None:
                self._executor.shutdown(wait=False)

    async def _connect(self) -> Client | None:
        """Connect, retrying with backoff until connected or stopped (nats-py retries for ever with -1)."""
        connecting = asyncio.create_task(
            nats.connect(
                self.options.nats_url,
                max_reconnect_attempts=-1,
                reconnect_time_wait=2,
                # We publish only acks and pull requests, to subjects the server gave us or the API's own: checking
                # every ack's subject again is a few percent of the consumer's time.
                skip_subject_validation=True,
                connect_timeout=5,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
                closed_cb=self._on_closed,
                error_cb=self._on_error,
            )
        )
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():
            connecting.cancel()
            return None
        metrics.nats_connection_status.set(1)
        return connecting.result()

    async def _on_disconnected(self) -> None:
        metrics.nats_connection_status.set(0)
        if not self._closing:
            logger.warning("disconnected from NATS")

    async def _on_closed(self) -> None:
        metrics.nats_connection_status.set(0)

    async def _on_reconnected(self) -> None:
        metrics.nats_connection_status.set(1)
        logger.info("reconnected to NATS")

    async def _on_error(self, error: Exception) -> None:
        logger.warning("NATS error: %s", error)

    async def _close(self, nc: Client) -> None:
        self._closing = True
        try:
            await nc.flush(timeout=5)
        except Exception as exc:  # acks not flushed are redelivered later: harmless, idempotent writes
            logger.warning("could not flush acks before closing: %s", exc)
        await nc.close()
        metrics.nats_connection_status.set(0)

    async def _fetch_loop(self, fetcher: PullFetcher) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            msgs: list[Msg] = []
            try:
                if not self._stopping.is_set():
                    msgs = await fetcher.fetch()
            except nats.errors.Error as exc:  # e.g. connection closed mid-request; nats-py reconnects
                logger.warning("fetch failed: %s", exc)
                await asyncio.sleep(1)
            if msgs:
                await self._hand_over(msgs)  # the writer frees the slot once the batch is acked
            else:
                self._slots.release()

    async def _hand_over(self, msgs: list[Msg]) -> None:
        """Parse a batch and queue it for the writer (the caller holds a slot for it).

        Parsing runs in a thread, so the heartbeat keeps the batch in progress however long a hostile message
        takes to parse."""
        started = perf_counter()
        self._in_hand[id(msgs)] = msgs
        metrics.messages_received.inc(len(msgs))
        metrics.batch_size.observe(len(msgs))
        await self._last_delivery(msgs)
        # Read from the store at most every SYMBOLS_CACHE_SECONDS; an unknown symbol creates nothing.
        known = await asyncio.to_thread(symbols.known_symbols)
        batch = await asyncio.to_thread(
            batch_parse,
            payloads=[(msg.data, msg.subject) for msg in msgs],
            ingested_at=utcnow(),
            message_id=lambda index: _message_id(msgs[index]),
            max_raw_bytes=self.options.dead_letter_max_raw_bytes,
            max_rejections=self.options.dead_letter_max_rejections,
            known_symbols=known,
            max_future_skew=timedelta(seconds=self.options.max_future_skew),
        )
        await self._queue.put((msgs, batch, started))

    async def _last_delivery(self, msgs: list[Msg]) -> None:
        """A message on its last delivery (`max_deliver`) was handed out that often without being acked: it may be
        what keeps crashing the consumer. It is dead-lettered (reason `max_deliver`) before it is parsed, so it is
        on record even if this attempt fails too; its good rows are still stored if the attempt succeeds."""
        last = [msg for msg in msgs if _deliveries(msg) >= self.options.max_deliver]
        if not last:
            return
        from .services import dead_letters_store

        letters = [self._max_deliver_letter(msg) for msg in last]

        def store() -> None:
            with pymongo.timeout(self.options.store_timeout):
                dead_letters_store(letters=letters)

        try:
            await asyncio.to_thread(store)
        except Exception as exc:  # the store is down: the batch's write below waits for it; only this record is lost
            logger.warning("could not dead-letter %d messages at their last delivery: %s", len(letters), exc)
        metrics.messages_failed.labels("max_deliver").inc(len(last))

    def _max_deliver_letter(self, msg: Msg) -> dict:
        letter = {
            **payload_record(msg.data, self.options.dead_letter_max_raw_bytes),
            "subject": msg.subject,
            "reason": "max_deliver",
            "error": f"delivered {_deliveries(msg)} times without being acked",
            "received_at": utcnow(),
        }
        message_id = _message_id(msg)
        if message_id is not None:
            letter["_id"] = f"{message_id}:max_deliver"
        return letter

    async def _heartbeat(self) -> None:
        """Every third of the ack wait, mark the messages in hand as in progress: a long parse or write must not
        make JetStream hand them to another replica (or to us again) while we work on them."""
        while True:
            await asyncio.sleep(max(self.options.ack_wait / 3, 0.5))
            await self._mark_in_progress()

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            msgs, batch, started = item
            if await self._write(msgs, batch):
                await self._ack(msgs)
                self._account(batch, started)
            del self._in_hand[id(msgs)]
            self._slots.release()

    async def _write(self, msgs: list[Msg], batch: Batch) -> bool:
        """Write the batch, retrying while the store fails; False only when stopping ran out of grace time.

        The grace bounds the attempt in flight too: a stalled store holds a write until its time limit, and the
        stop must not wait for that (the batch is left unacked, for redelivery)."""
        writing = asyncio.create_task(self._write_retrying(batch))
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({writing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not writing.done() and self._stop_requested_at is not None:
            remaining = self.options.shutdown_grace - (perf_counter() - self._stop_requested_at)
            await asyncio.wait({writing}, timeout=max(0.0, remaining))
        stopping.cancel()
        if not writing.done():
            writing.cancel()
            self.abandoned = True
            logger.error("store still failing at shutdown; %d messages left for redelivery", len(msgs))
            return False
        error = writing.exception()
        if error is not None:
            self.abandoned = True
            logger.error("store still failing at shutdown; %d messages left for redelivery: %s", len(msgs), error)
            return False
        return True

    async def _write_retrying(self, batch: Batch) -> None:
        retrying = AsyncRetrying(
            # Any failure, not only the store's: a batch is never dropped, and the metrics show the retries.
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(multiplier=0.25, max=15),
            stop=self._out_of_grace,
            before_sleep=self._keep_in_progress,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self.sink(batch)

    def _out_of_grace(self, retry_state: RetryCallState) -> bool:
        started = self._stop_requested_at
        return started is not None and perf_counter() - started > self.options.shutdown_grace

    async def _keep_in_progress(self, retry_state: RetryCallState) -> None:
        metrics.store_retries.inc()
        logger.warning(
            "store write failed (attempt %d), retrying in %.1fs: %s",
            retry_state.attempt_number,
            retry_state.upcoming_sleep,
            retry_state.outcome.exception() if retry_state.outcome else "",
        )
        await self._mark_in_progress()

    async def _mark_in_progress(self) -> None:
        for msgs in list(self._in_hand.values()):
            for msg in msgs:
                try:
                    await msg.in_progress()
                except Exception:  # NATS down as well: the messages may be redelivered, which is harmless
                    break

    async def store_batch(self, batch: Batch) -> WriteResult:
        """The default sink: rows, dead letters and first-sight lineage, in one worker thread (pymongo is sync)."""
        return await asyncio.to_thread(self._store_batch, batch)

    def _store_batch(self, batch: Batch) -> WriteResult:
        from .services import batch_store, ingest_lineage_ensure

        # One deadline for the batch's store writes: a stalled store fails the attempt (retried) instead of
        # holding the writer for the process-wide MONGODB_MAX_TIME_MS.
        with pymongo.timeout(self.options.store_timeout):
            result = batch_store(batch=batch, executor=self._executor)
        if batch.rows:
            ingest_lineage_ensure(refs=list(batch.rows), subject=self.options.subject)
            if self.books is not None:
                self.books.submit(batch.rows)
        return result

    async def _ack(self, msgs: list[Msg]) -> None:
        try:
            for msg in msgs:
                await msg.ack()
        except Exception as exc:  # unacked messages come back after ack_wait and are written again idempotently
            logger.warning("could not ack %d messages: %s", len(msgs), exc)

    def _account(self, batch: Batch, started: float) -> None:
        now = utcnow()
        metrics.processing_seconds.observe(perf_counter() - started)
        metrics.messages_processed.inc(batch.messages)
        metrics.messages_ignored.inc(batch.ignored)
        for reason, count in batch.failed.items():
            metrics.messages_failed.labels(reason).inc(count)
        for published_at in batch.published_at:
            metrics.publish_lag_seconds.observe((now - published_at).total_seconds())


def _deliveries(msg: Msg) -> int:
    try:
        return msg.metadata.num_delivered or 1
    except Exception:
        return 1


def _message_id(msg: Msg) -> str | None:
    try:
        metadata = msg.metadata
    except Exception:
        return None
    return f"{metadata.stream}:{metadata.sequence.stream}"
