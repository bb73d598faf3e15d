"""`manage.py backfill BTCUSDT candles --timeframe 1m --start 2024-01-01 --end 2024-01-31 --wait [--source auto]`

Without `--wait` the job is handed to a Celery worker; with it, the job runs here with a progress bar and a summary.
`--resume ID` continues an existing job here from its cursor (e.g. after its worker was killed).
A depth job takes one snapshot of the book as it is now (Binance keeps no book history): its window defaults to
the minute before now (`manage.py backfill BTCUSDT depth --wait`).
"""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from petrosa_dm.market.timeutils import InvalidTime, parse_time, utcnow

from ... import services
from ...models import BackfillJob


def _time(value: str):
    try:
        return parse_time(value)
    except InvalidTime as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = "Backfill one series from Binance's archives and REST API (--source auto|archive|rest)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("symbol", nargs="?", help="e.g. BTCUSDT")
        parser.add_argument("data_type", nargs="?", choices=BackfillJob.DataType.values)
        parser.add_argument("--timeframe", default="", help="kline interval (candles only), e.g. 1m")
        parser.add_argument("--start", help="ISO-8601 or epoch milliseconds, inclusive")
        parser.add_argument("--end", help="ISO-8601 or epoch milliseconds, exclusive")
        parser.add_argument("--priority", type=int, default=5)
        parser.add_argument(
            "--source",
            choices=BackfillJob.DataSource.values,
            default=BackfillJob.DataSource.AUTO,
            help="auto (default): Binance's archives for whole published months and days, REST for the rest",
        )
        parser.add_argument("--from-id", type=int, help="trades: first aggregate trade id of an id range")
        parser.add_argument("--to-id", type=int, help="trades: last aggregate trade id of an id range")
        parser.add_argument("--wait", action="store_true", help="run the job here and wait for it to end")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="resume an existing job here")

    def handle(self, *args, **options) -> None:
        if options["resume"]:
            job = BackfillJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"no backfill job #{options['resume']}")
            self._run(job, force=True)
            return
        if options["data_type"] == BackfillJob.DataType.DEPTH and not (options["start"] or options["end"]):
            now = utcnow()  # the snapshot is the book now, whatever the window says
            options["start"], options["end"] = (now - timedelta(minutes=1)).isoformat(), now.isoformat()
        if not (options["symbol"] and options["data_type"] and options["start"] and options["end"]):
            raise CommandError("SYMBOL, TYPE, --start and --end are required (or --resume JOB_ID)")
        try:
            job = services.backfill_job_create(
                symbol=options["symbol"],
                data_type=options["data_type"],
                timeframe=options["timeframe"],
                start=_time(options["start"]),
                end=_time(options["end"]),
                priority=options["priority"],
                data_source=options["source"],
                from_id=options["from_id"],
                to_id=options["to_id"],
                source="command",
                enqueue=not options["wait"],
            )
        except services.InvalidBackfill as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"backfill job #{job.pk}: {job}")
        self.stdout.flush()
        if options["wait"]:
            self._run(job, force=False)
        else:
            self.stdout.write(f"enqueued for a worker; follow it at /backfill/jobs/{job.pk}")

    def _run(self, job: BackfillJob, *, force: bool) -> None:
        began = time.monotonic()
        with tqdm(total=100, unit="%", desc=f"job #{job.pk}", bar_format="{l_bar}{bar}| {n:.1f}% {postfix}") as bar:

            def on_page(current: BackfillJob) -> None:
                bar.update(current.progress * 100 - bar.n)
                bar.set_postfix(rows=current.rows_fetched, weight=current.weight_used)

            job = services.backfill_job_run(job=job, force=force, on_page=on_page)
        elapsed = time.monotonic() - began
        summary = (
            f"job #{job.pk} {job.status}: {job.rows_fetched} rows fetched, {job.rows_inserted} written, "
            f"{job.rows_duplicate} duplicate, {job.requests_made} requests, weight {job.weight_used}, {elapsed:.1f} s"
        )
        if job.status != BackfillJob.Status.SUCCEEDED:
            raise CommandError(f"{summary}. {job.error}".strip())
        self.stdout.write(summary)
