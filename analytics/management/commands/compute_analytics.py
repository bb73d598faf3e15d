"""`manage.py compute_analytics [--pair BTCUSDT] [--period 1h] [--window 20 ...]`: compute analytics now."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics import selectors, services
from petrosa_dm.market.naming import InvalidName, normalize_interval, normalize_symbol


class Command(BaseCommand):
    help = "Compute analytics for stored candle series (all of them, or those --pair/--period select)."

    def add_arguments(self, parser):
        parser.add_argument("--pair", help="only this symbol, e.g. BTCUSDT")
        parser.add_argument("--period", help="only this candle interval, e.g. 1h")
        parser.add_argument(
            "--window", type=int, action="append", help="window length in bars (repeatable; default ANALYTICS_WINDOWS)"
        )

    def handle(self, *args, pair=None, period=None, window=None, **options):
        try:
            pair = normalize_symbol(pair) if pair else None
            period = normalize_interval(period) if period else None
        except InvalidName as exc:
            raise CommandError(str(exc)) from exc
        if window and min(window) < 2:
            raise CommandError("--window must be at least 2 bars")
        refs = [
            ref
            for ref in selectors.candle_series_list()
            if (pair is None or ref.symbol == pair) and (period is None or ref.interval == period)
        ]
        # Spread is measured on ANALYTICS_SPREAD_PERIOD bars; another --period selects no depth series.
        with_depth = period is None or period == settings.ANALYTICS_SPREAD_PERIOD
        depth_refs = [
            ref for ref in selectors.depth_series_list() if with_depth and (pair is None or ref.symbol == pair)
        ]
        results = unreliable = 0
        with tqdm(total=len(refs) + len(depth_refs), unit="series", disable=options["verbosity"] == 0) as progress:
            for ref in refs:
                progress.set_description(ref.collection)
                summary = services.analytics_compute(symbol=ref.symbol, interval=ref.interval, windows=window)
                results, unreliable = results + summary.results, unreliable + summary.unreliable
                progress.update()
            for ref in depth_refs:
                progress.set_description(ref.collection)
                summary = services.analytics_compute_spread(symbol=ref.symbol, windows=window)
                results, unreliable = results + summary.results, unreliable + summary.unreliable
                progress.update()
        self.stdout.write(
            f"computed {results} results ({unreliable} flagged unreliable) "
            f"for {len(refs)} candle series and {len(depth_refs)} depth series"
        )
