"""Archive imports: rate against the store's own bulk insert, memory on a big file, REST weight used.

    python -m petrosa_dm.testing.services python bench/archive.py [--rows 5000000] [--ratio-rows 400000]

1. Rate: generated aggTrades daily files (`--ratio-rows` over `--ratio-files` days) are served by the local archive
   server and imported by a backfill job (download, SHA-256, line check, streamed parse, writes, cursor saves). The
   same documents are bulk-inserted by the store's own `insert_many` into a fresh collection with the same indexes,
   in the same run and chunk size, only the inserts timed. Target: import rate >= 0.9 x the bulk-insert rate.
2. Memory: one generated aggTrades file of `--rows` rows (default 5,000,000, a busy day of BTCUSDT) is imported in a
   child process, served from disk by a server in this process; the child's peak RSS is reported (target < 300 MB),
   with its RSS sampled along the import to show it stays flat.
3. REST weight used by these imports (target 0).
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from figures import record  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SYMBOL = "BTCUSDT"
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000


def _setup_django(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir}/bench.sqlite3"
    os.environ["DM_VAR_DIR"] = var_dir
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def generate_agg_trades(path: Path, *, rows: int, day: datetime, first_id: int) -> str:
    """A zip in Binance's aggTrades layout with `rows` trades spread over `day`, written as a stream; its SHA-256."""
    start_ms = int(day.timestamp() * 1000)
    name = f"{SYMBOL}-aggTrades-{day.date().isoformat()}.csv"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=True) as member,
    ):
        member.write(b"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n")
        batch = []
        for i in range(rows):
            trade_id = first_id + i
            price = 42000 + (i * 7919 % 200000) / 100
            batch.append(
                f"{trade_id},{price:.2f},{0.001 * (1 + i % 500):.3f},{trade_id * 3},{trade_id * 3 + i % 3},"
                f"{start_ms + i * DAY_MS // rows},{'true' if i % 2 else 'false'}\n"
            )
            if len(batch) == 10_000:
                member.write("".join(batch).encode())
                batch.clear()
        member.write("".join(batch).encode())
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(server, directory: Path, *, rows: int, days: int, first_day: datetime) -> list:
    from backfills.archive.layout import DAILY, archive_file

    files, per_day, next_id = [], rows // days, 1
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        file = archive_file("trades", DAILY, SYMBOL, day)
        path = directory / file.name
        server.add_zip_path(file, str(path), generate_agg_trades(path, rows=per_day, day=day, first_id=next_id))
        files.append(file)
        next_id += per_day
    return files


def bulk_insert_seconds(file, server_url: str, chunk_rows: int) -> tuple[int, float]:
    """The store's own insert_many of the file's documents (parsed untimed), into an indexed collection that grows
    file by file, as the imported series does."""
    from backfills.archive.download import ArchiveClient, read_chunks, verify
    from ingestion import store
    from petrosa_dm import mongo
    from petrosa_dm.market.naming import DataType

    target = mongo.database()["bench_archive_baseline"]
    store.ensure_indexes(target, DataType.TRADES)
    client = ArchiveClient(base_url=server_url)
    rows, seconds = 0, 0.0
    downloaded = verify(client.download(file))
    for chunk in read_chunks(downloaded, now=datetime.now(UTC), chunk_rows=chunk_rows):
        began = time.perf_counter()
        target.insert_many(chunk, ordered=False)
        seconds += time.perf_counter() - began
        rows += len(chunk)
    downloaded.discard()
    client.close()
    return rows, seconds


def import_job(start: datetime, end: datetime, on_page=None):
    from backfills.services import backfill_job_create, backfill_job_run

    job = backfill_job_create(
        symbol=SYMBOL, data_type="trades", start=start, end=end, enqueue=False, data_source="archive"
    )
    return backfill_job_run(job=job, on_page=on_page)


def bench_ratio(args, archive, directory: Path, settings) -> int:
    """Import rate against the store's own bulk insert (phase 1); returns the REST weight the imports used."""
    from petrosa_dm import mongo

    ratio_day = DAY0 + timedelta(days=10)
    files = publish(archive, directory, rows=args.ratio_rows, days=args.ratio_files, first_day=ratio_day)
    # File by file, the bulk insert and the import alternate: the shared store's pace drifts with the
    # machine's load, and alternating exposes both to the same drift.
    rows = insert_seconds = import_seconds = weight = 0
    mongo.database().drop_collection("bench_archive_baseline")
    for file in files:
        file_rows, seconds = bulk_insert_seconds(file, archive.url, settings.ARCHIVE_CHUNK_ROWS)
        rows, insert_seconds = rows + file_rows, insert_seconds + seconds
        began = time.perf_counter()
        job = import_job(file.start, file.end)
        import_seconds += time.perf_counter() - began
        assert job.status == "succeeded" and job.rows_inserted == file_rows, (job.status, job.error)
        weight += job.weight_used
    insert_rate, import_rate = rows / insert_seconds, rows / import_seconds
    print(
        f"store bulk insert: {insert_rate:,.0f} rows/s; archive import: {import_rate:,.0f} rows/s "
        f"({rows:,} aggTrades in {args.ratio_files} daily files, download and checks included)"
    )
    record("archive import rate / store bulk-insert rate", import_rate / insert_rate, 0.9, "x")
    for file in files:
        (directory / file.name).unlink()
    mongo.database().drop_collection(f"trades_{SYMBOL}")
    mongo.database().drop_collection("bench_archive_baseline")
    return weight


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(args) -> None:
    """Import the big file here and report peak RSS and RSS along the way (JSON on stdout)."""
    _setup_django(args.var_dir)
    from django.conf import settings

    settings.BINANCE_ARCHIVE_BASE_URL = args.archive_url
    samples = []
    if args.null_store:  # the import path's own memory, writes discarded (a slow shared store would take hours)
        from backfills.archive import runner
        from ingestion.store import WriteResult

        runner.write_rows = lambda ref, rows, **options: WriteResult(inserted=len(rows))

    def sample(job) -> None:
        if not samples or job.progress - samples[-1][0] >= 0.1:
            samples.append((round(job.progress, 2), round(_rss_mb(), 1)))

    began = time.perf_counter()
    job = import_job(DAY0, DAY0 + timedelta(days=1), on_page=sample)
    print(
        json.dumps(
            {
                "status": job.status,
                "error": job.error,
                "rows": job.rows_inserted,
                "seconds": time.perf_counter() - began,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "samples": samples,
                "weight": job.weight_used,
                "requests": job.requests_made,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the big aggTrades file (memory)")
    parser.add_argument("--ratio-rows", type=int, default=400_000, help="rows imported for the rate ratio")
    parser.add_argument("--ratio-files", type=int, default=4, help="daily files the ratio rows are spread over")
    parser.add_argument("--only-rss", action="store_true", help="skip the rate ratio")
    parser.add_argument(
        "--null-store", action="store_true", help="memory phase: discard writes (the import path's own memory)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--archive-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not os.environ.get("MONGODB_URL"):
        sys.exit("MONGODB_URL is not set: run under `python -m petrosa_dm.testing.services` (make bench does)")
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as var_dir:
        _setup_django(var_dir)
        from django.conf import settings
        from django.core.management import call_command

        from backfills.testing.archive_server import ArchiveTestServer
        from backfills.testing.binance_server import BinanceTestServer
        from ingestion import store
        from petrosa_dm import mongo

        call_command("migrate", verbosity=0)
        directory = Path(var_dir)
        with ArchiveTestServer() as archive, BinanceTestServer() as rest:
            settings.BINANCE_ARCHIVE_BASE_URL = archive.url
            settings.BINANCE_FUTURES_BASE_URL = rest.url
            mongo.database().drop_collection(f"trades_{SYMBOL}")
            store.forget_indexes()

            # 1. rate against the store's own bulk insert, same documents, same run
            weight = 0
            if not args.only_rss:
                weight += bench_ratio(args, archive, directory, settings)

            # 2. peak RSS importing one big file, in a child process (the server and its file stay here)
            big = publish(archive, directory, rows=args.rows, days=1, first_day=DAY0)[0]
            size_mb = (directory / big.name).stat().st_size / 1e6
            output = subprocess.run(
                [sys.executable, __file__, "--child", "--var-dir", var_dir, "--archive-url", archive.url]
                + (["--null-store"] if args.null_store else []),
                check=True,
                capture_output=True,
                text=True,
                env=os.environ | {"LOG_LEVEL": "WARNING"},
            ).stdout
            report = json.loads(output.strip().splitlines()[-1])
            assert report["status"] == "succeeded" and report["rows"] == args.rows, report
            print(
                f"big file: {args.rows:,} aggTrades ({size_mb:,.0f} MB zipped) imported in {report['seconds']:,.1f} s "
                f"({args.rows / report['seconds']:,.0f} rows/s); RSS (progress, MB) along the way: "
                f"{report['samples']}"
            )
            what = " (writes discarded)" if args.null_store else ""
            figure = f"peak RSS importing a {args.rows:,}-row aggTrades file{what}"
            record(figure, report["peak_mb"], 300, "MB", better="lower")
            weight += report["weight"] + sum(r.weight for r in rest.requests)
            record("REST weight used by archive imports", weight, 0, "weight", better="lower")
            mongo.database().drop_collection(f"trades_{SYMBOL}")


if __name__ == "__main__":
    main()
