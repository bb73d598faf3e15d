"""`manage.py reconcile --dataset candles_BTCUSDT_1m --start 2024-01-01 --end 2024-02-01`

Compares the stored rows with Binance's archive value by value and records each difference (a value that
differs, a row only in one of them) as an audit finding of type `reconciliation`, with both values.
"""

from django.core.management.base import BaseCommand, CommandError

from petrosa_dm.market.naming import parse_collection
from petrosa_dm.market.timeutils import InvalidTime, parse_time

from ...archive.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare a dataset's stored rows with Binance's archive files, value by value."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dataset", required=True, help="the collection, e.g. candles_BTCUSDT_1m or trades_BTCUSDT"
        )
        parser.add_argument("--start", required=True, help="ISO-8601 or epoch milliseconds, inclusive")
        parser.add_argument("--end", required=True, help="ISO-8601 or epoch milliseconds, exclusive")

    def handle(self, *args, **options) -> None:
        ref = parse_collection(options["dataset"])
        if ref is None:
            raise CommandError(f"--dataset: {options['dataset']!r} is not a dataset name, e.g. candles_BTCUSDT_1m")
        try:
            start, end = parse_time(options["start"]), parse_time(options["end"])
        except InvalidTime as exc:
            raise CommandError(str(exc)) from exc
        if start >= end:
            raise CommandError("--end: must be after --start")
        try:
            result = reconcile(ref=ref, start=start, end=end)
        except ValueError as exc:
            raise CommandError(f"--dataset: {exc}") from exc
        for entry in result.files:
            self.stdout.write(
                f"  {entry.get('file') or entry['start'] + ' .. ' + entry['end']}: {entry['outcome']}"
                + (f" ({entry['reason']})" if entry.get("reason") else "")
            )
        self.stdout.write(
            f"{ref.collection}: {result.rows_compared} archive rows compared; {result.differing} differ, "
            f"{result.archive_only} only in the archive, {result.store_only} only in the store; "
            f"{result.findings_created} new finding(s)"
        )
