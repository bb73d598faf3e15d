"""`manage.py replay FILE`: publish a recorded websocket stream onto the consumer's NATS subject."""

import asyncio
from pathlib import Path

import nats
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ingestion.replay import Capture, replay


class Command(BaseCommand):
    help = "Publish a recorded stream (one JSON message per line, optional receive-time prefix, gzip ok) to NATS."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--subject", default=None, help="NATS subject (default NATS_CONSUMER_SUBJECT)")
        parser.add_argument("--rate", type=float, default=None, help="messages per second (default: max speed)")
        parser.add_argument("--envelope", action="store_true", help="wrap each message in the socket client's envelope")
        parser.add_argument("--limit", type=int, default=None, help="publish at most this many messages")
        parser.add_argument("--nats-url", default=None, help="NATS server (default NATS_URL)")

    def handle(self, *args, file: Path, subject, rate, envelope, limit, nats_url, **options):
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        if rate is not None and rate <= 0:
            raise CommandError("--rate must be positive")
        if limit is not None and limit < 0:
            raise CommandError("--limit must not be negative")
        subject = subject or settings.NATS_CONSUMER_SUBJECT
        capture = Capture(file)
        result = asyncio.run(self._publish(nats_url or settings.NATS_URL, subject, capture, rate, envelope, limit))
        self.stdout.write(
            f"published {result.published} messages from {file.name} to {subject} in {result.seconds:.2f}s "
            f"({result.rate:.0f} msg/s); skipped {capture.skipped} lines without a message"
        )
        if capture.snapshots:
            self.stdout.write(
                f"left out {capture.snapshots} recorded REST depth snapshot{'s' if capture.snapshots > 1 else ''} "
                f"(no socket message: the exchange answers it to a REST request). Offline, the stand-in exchange "
                f"serves it: .venv/bin/python -m backfills.testing.binance_server --port 8900 --depth-capture {file} "
                f"with BINANCE_FUTURES_BASE_URL=http://127.0.0.1:8900"
            )

    async def _publish(self, url, subject, capture, rate, envelope, limit):
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
        try:
            return await replay(
                nc, subject=subject, messages=capture.messages(), rate=rate, envelope=envelope, limit=limit
            )
        finally:
            await nc.close()
