"""`make bench`: run every benchmark script, print one table and write it into docs/benchmarks.md.

Each script runs as its own process against the services `make bench` started (see petrosa_dm.testing.services)
and records its figures through bench/figures.py: measured, target, the ratio to the target, the same-run ratio to
its reference (the store's own bulk write, the same query through pymongo) and the load average when measured.
The table replaces what lies between the two markers of docs/benchmarks.md, so the page never shows a figure of an
older run next to a newer one. `python bench/run_all.py api.py` runs (and writes) only the scripts named.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import number  # bench/ is on sys.path when a bench script runs

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("ingest.py", "api.py", "audit.py", "backfill.py", "analytics.py", "books.py")
PAGE = BENCH.parent / "docs" / "benchmarks.md"
START, END = "<!-- bench:start (written by `make bench`) -->", "<!-- bench:end -->"


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


def same_run(entry: dict) -> str:
    if not entry.get("reference"):
        return ""
    ratio = entry.get("same_run_ratio")
    shown = number(ratio) if ratio is not None else "n/a"
    return f"{shown} x {entry['reference']} ({number(entry['reference_value'])} {entry['unit']})"


def table(figures: list[dict]) -> str:
    rows = [["figure", "measured", "target", "ratio to target", "same-run ratio", "load average 1/5/15 min"]]
    for entry in figures:
        sign = ">=" if entry["better"] == "higher" else "<="
        rows.append(
            [
                entry["figure"],
                f"{number(entry['measured'])} {entry['unit']}",
                f"{sign} {number(entry['target'])} {entry['unit']}",
                number(entry["ratio"]) + ("" if entry["ratio"] >= 1 else " (missed)"),
                same_run(entry),
                entry.get("load", ""),
            ]
        )
    return render(rows)


def render(rows: list[list[str]]) -> str:
    """A markdown table, the first row its header, columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    scripts = [name for name in (sys.argv[1:] or SCRIPTS) if (BENCH / name).exists()]
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as figures_file:
        durations = {script: run(script, figures_file.name) for script in scripts}
        figures = [json.loads(line) for line in Path(figures_file.name).read_text().splitlines() if line]
    summary = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` ({' '.join(scripts)}); machine: {machine()}; "
        "run time: " + ", ".join(f"{script} {seconds:.0f} s" for script, seconds in durations.items()) + "."
    )
    print(f"\n{summary}")
    print(table(figures))
    block = f"{summary}\n\n{table(figures)}"
    if len(sys.argv) > 1:  # a partial run: the other scripts' rows of the last run stay, under its run line
        block = merged(block, scripts)
    write_page(block)
    return 0


def merged(block: str, scripts: list[str]) -> str:
    """This run's block plus the rows of the page's last table that belong to scripts not run now (rows are named
    "<script>: ..."), the earlier run lines kept above so that every row's run is said."""
    text = PAGE.read_text() if PAGE.exists() else ""
    if START not in text:
        return block
    earlier = text.split(START, 1)[1].split(END, 1)[0].strip()
    names = {script.removesuffix(".py") for script in scripts}
    runs = [line for line in earlier.splitlines() if line.startswith("Run ")]
    rows = [line for line in earlier.splitlines()[2:] if line.startswith("| ") and not line.startswith("| figure")]
    kept = [row for row in rows if row[2:].split(":", 1)[0] not in names]
    if not kept:
        return block
    runs = _runs_still_shown(runs, {row[2:].split(":", 1)[0] for row in kept})
    summary, table_text = block.split("\n\n", 1)
    lines = [line for line in table_text.splitlines() if not line.startswith("|-")] + kept
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return "\n".join([*runs, summary]) + "\n\n" + render(cells)


def _runs_still_shown(runs: list[str], shown: set[str]) -> list[str]:
    """The run lines that are the latest run of a script whose rows stay (a run replaces all rows of its scripts)."""
    latest = {}
    for line in runs:
        scripts = line.split("(", 1)[1].split(")", 1)[0].split() if "(" in line else []
        latest.update({script.removesuffix(".py"): line for script in scripts})
    needed = {latest[name] for name in shown if name in latest}
    return [line for line in runs if line in needed]


def write_page(block: str) -> None:
    """Replace the table between the markers of docs/benchmarks.md (the page's prose stays as written)."""
    text = PAGE.read_text() if PAGE.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = f"{text.rstrip()}\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(f"{head}{START}\n{block}\n{END}{tail}")
    print(f"wrote {PAGE.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    sys.exit(main())
