"""Audit bench: a full audit of a 500,000-candle dataset, then an incremental run after 1,000 new candles.

    python -m petrosa_dm.testing.services .venv/bin/python bench/audit.py [--rows N] [--new N]

Uses the dataset bench/candles.py loads (shared with bench/api.py): the newest 1,000 candles are held back, the
rest is audited in full, then the 1,000 are written again (the collector catching up) and audited incrementally.
Target: incremental <= full / 10.
The ORM uses a throwaway SQLite file unless DATABASE_URL is set.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='audit-bench-')}/bench.sqlite3")
os.environ.setdefault("AUDIT_REPAIR_ENABLED", "false")

import django

django.setup()

from candles import REF, ensure_loaded  # noqa: E402  (bench/ is on sys.path)
from django.core.management import call_command  # noqa: E402
from figures import record  # noqa: E402
from pymongo import DESCENDING  # noqa: E402

from audits.services import dataset_audit  # noqa: E402
from catalog.services import dataset_ensure  # noqa: E402
from ingestion import selectors  # noqa: E402
from petrosa_dm.market.timeutils import utcnow  # noqa: E402


def hold_back(collection, count: int) -> list[dict]:
    """Take the newest `count` candles out, to be written again as the "new" data of the incremental run."""
    # A range of the open_time index, as the API reads the newest page: an unbounded sort makes the embedded store
    # sort the whole collection (minutes on 500,000 candles).
    query = selectors.recent_candles_query(ref=REF, query={}, end=None, wanted=count)
    newest = list(collection.find(query, sort=[("open_time", DESCENDING)], limit=count))
    collection.delete_many({"_id": {"$in": [row["_id"] for row in newest]}})
    return newest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--new", type=int, default=1_000)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    collection = ensure_loaded(options.rows)
    began = time.perf_counter()
    new_rows = hold_back(collection, options.new)
    print(f"held back the newest {len(new_rows):,} candles in {time.perf_counter() - began:.1f} s", flush=True)
    dataset, _ = dataset_ensure(ref=REF)

    began = time.perf_counter()
    full = dataset_audit(dataset=dataset, full=True, now=utcnow())
    full_seconds = time.perf_counter() - began
    collection.insert_many(new_rows, ordered=False)  # the collector catches up: 1,000 new candles
    began = time.perf_counter()
    incremental = dataset_audit(dataset=dataset, now=utcnow())
    incremental_seconds = time.perf_counter() - began

    print(f"full audit:        {full.rows_read:>9,} rows read in {full_seconds:7.2f} s ({full.open_gaps} open gaps)")
    print(f"incremental audit: {incremental.rows_read:>9,} rows read in {incremental_seconds:7.2f} s")
    record(
        "audit: incremental run after 1,000 new candles / full audit (500k)",
        incremental_seconds / full_seconds,
        0.1,
        "x",
        better="lower",
    )


if __name__ == "__main__":
    main()
