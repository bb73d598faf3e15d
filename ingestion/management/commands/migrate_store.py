"""`manage.py migrate_store [COLLECTION ...]`: move stored rows to keys in `_id` (see ingestion.migration)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.migration import BATCH_SIZE, collection_migrate, store_collections


class Command(BaseCommand):
    help = (
        "Rewrite time-series collections so every row carries its idempotency key as _id, and drop the unique "
        "indexes that key replaces. Idempotent and resumable: rerun it after an interruption."
    )

    def add_arguments(self, parser):
        parser.add_argument("collections", nargs="*", help="collection names (default: every time-series collection)")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"rows per batch (default {BATCH_SIZE})")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, collections, batch_size, no_progress, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        refs = store_collections(collections)
        missing = sorted(set(collections) - {ref.collection for ref in refs})
        if missing:
            raise CommandError(f"not time-series collections in the store: {', '.join(missing)}")
        results = []
        for ref in refs:
            with tqdm(desc=ref.collection, unit="row", disable=no_progress or None, file=self.stderr._out) as bar:

                def start(result, bar=bar):
                    bar.reset(total=result.to_rewrite)

                results.append(collection_migrate(ref, batch_size=batch_size, progress=bar.update, on_start=start))
        for result in results:
            self.stdout.write(
                f"{result.collection}: {result.rows_before} rows before, {result.rows_after} after; "
                f"{result.rewritten} rewritten to their key, {result.merged} merged into a row of the same key, "
                f"{result.unkeyed} kept without a key (missing key fields); "
                f"indexes dropped: {', '.join(result.indexes_dropped) or 'none'}"
            )
        before = sum(result.rows_before for result in results)
        after = sum(result.rows_after for result in results)
        changed = sum(result.changed for result in results)
        self.stdout.write(
            f"{len(results)} collections, {changed} changed: {before} rows before, {after} after, "
            f"{sum(result.merged for result in results)} merged"
        )
