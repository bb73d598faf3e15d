"""`manage.py audit [DATASET ...] [--full]`: audit datasets now, with a progress bar and a summary line."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.models import Dataset
from petrosa_dm.market.naming import parse_collection

from ...services import datasets_audit_all, datasets_discover


class Command(BaseCommand):
    help = "Audit datasets (all when none is named): gaps, sequences, validity, freshness, health."

    def add_arguments(self, parser) -> None:
        parser.add_argument("datasets", nargs="*", metavar="DATASET", help="Dataset ids (collection names).")
        parser.add_argument("--full", action="store_true", help="Re-read every row instead of new rows only.")

    def handle(self, *args, datasets: list[str], full: bool, **options) -> None:
        targets = self._targets(datasets)
        with tqdm(total=len(targets), unit="dataset", file=self.stderr, disable=options["verbosity"] == 0) as bar:
            outcomes = datasets_audit_all(full=full, datasets=targets, progress=lambda dataset: bar.update(1))
        failed = len(targets) - len(outcomes)
        for outcome in outcomes:
            if options["verbosity"] > 1:
                self.stdout.write(
                    f"{outcome.dataset_id}: quality {outcome.quality_score:.1f}, {outcome.open_gaps} open gaps, "
                    f"{outcome.rows_read} rows read in {outcome.seconds:.2f} s"
                )
        self.stdout.write(
            f"audited {len(outcomes)} datasets ({'full' if full else 'incremental'}): "
            f"{sum(o.rows_read for o in outcomes)} rows read, {sum(o.gaps_created for o in outcomes)} new gaps, "
            f"{sum(o.gaps_filled for o in outcomes)} filled, {sum(o.open_gaps for o in outcomes)} open, "
            f"{sum(o.findings_created for o in outcomes)} new findings, "
            f"{sum(o.jobs_created for o in outcomes)} backfill jobs, {failed} failed"
        )
        if failed:
            raise CommandError(f"{failed} dataset audits failed (see the log)")

    def _targets(self, names: list[str]) -> list[Dataset]:
        if not names:
            return datasets_discover()
        from catalog.services import dataset_ensure

        targets = []
        for name in names:
            ref = parse_collection(name)
            if ref is None:
                raise CommandError(f"{name!r} is not a dataset id (a collection name such as candles_BTCUSDT_1h)")
            targets.append(dataset_ensure(ref=ref)[0])
        return targets
