"""`make bench`: run every benchmark script and print one table of figure, measured, target and ratio.

Each script runs as its own process against the services `make bench` started (see petrosa_dm.testing.services)
and records its figures through bench/figures.py.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import number  # bench/ is on sys.path when a bench script runs

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("ingest.py", "api.py", "audit.py", "backfill.py", "analytics.py")


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {cores} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    )


def run(script: str, figures_file: str) -> float:
    started = time.monotonic()
    env = {**os.environ, "BENCH_FIGURES_FILE": figures_file}
    print(f"\n=== bench/{script}", flush=True)
    result = subprocess.run([sys.executable, str(BENCH / script)], env=env, cwd=BENCH.parent)
    if result.returncode:
        print(f"bench/{script} exited with status {result.returncode}")
    return time.monotonic() - started


def table(figures: list[dict]) -> str:
    rows = [("figure", "measured", "target", "ratio")]
    for entry in figures:
        sign = ">=" if entry["better"] == "higher" else "<="
        rows.append(
            (
                entry["figure"],
                f"{number(entry['measured'])} {entry['unit']}",
                f"{sign} {number(entry['target'])} {entry['unit']}",
                number(entry["ratio"]) + ("" if entry["ratio"] >= 1 else " (missed)"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    scripts = [name for name in (sys.argv[1:] or SCRIPTS) if (BENCH / name).exists()]
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as figures_file:
        durations = {script: run(script, figures_file.name) for script in scripts}
        figures = [json.loads(line) for line in Path(figures_file.name).read_text().splitlines() if line]
    print(f"\nmachine: {machine()}")
    print("run time: " + ", ".join(f"{script} {seconds:.0f} s" for script, seconds in durations.items()))
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
