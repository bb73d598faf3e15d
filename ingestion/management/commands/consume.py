"""`manage.py consume`: the NATS JetStream consumer (see ingestion/consumer.py)."""

import asyncio
import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from prometheus_client import start_http_server

from ingestion.consumer import Consumer, ConsumerOptions
from petrosa_dm.heap import tune_gc
from petrosa_dm.redaction import redact_url
from petrosa_dm.tracing import setup_tracing


class Command(BaseCommand):
    help = "Consume Binance futures events from NATS JetStream into MongoDB (acks after the write)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="messages per fetch (CONSUMER_BATCH_SIZE)")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.CONSUMER_METRICS_PORT,
            help="port of the Prometheus metrics endpoint; 0 disables it (CONSUMER_METRICS_PORT)",
        )

    def handle(self, *args, batch_size: int | None, metrics_port: int, **options):
        if metrics_port:
            start_http_server(metrics_port)
        setup_tracing("consumer")
        consumer_options = ConsumerOptions.from_settings(
            batch_size=batch_size, keep_books=settings.BOOKS_KEEPER_ENABLED
        )
        self.stdout.write(
            f"consuming {consumer_options.subject} from {redact_url(consumer_options.nats_url)} "
            f"(durable {consumer_options.durable}, metrics on :{metrics_port or 'off'})"
        )
        tune_gc()
        consumer = Consumer(consumer_options)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._run(consumer))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            if not consumer.abandoned:  # else a store thread is stuck in a write: do not wait for it
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
        self.stdout.write("consumer stopped")
        if consumer.abandoned:
            # Its batch is unacked and will be redelivered; exiting now keeps the stop within its grace time.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    async def _run(self, consumer: Consumer) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, consumer.stop)
        await consumer.run()
