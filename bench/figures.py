"""How a benchmark script reports a figure: printed for a person, and recorded for `make bench`'s table.

`record(...)` prints one line and, when BENCH_FIGURES_FILE is set (as bench/run_all.py sets it), appends the figure
as a JSON line there. `better` says which way is good, so the ratio is >= 1 exactly when the target is met.

Absolute figures on a shared machine move with its load, so every figure carries the load average at the moment it
was measured, and, where one exists, `reference`: the same work done the cheapest way in the same run (the store's
own bulk write, the same query through pymongo). `measured / reference` is the figure that travels between machines.
"""

import json
import os


def number(value: float) -> str:
    """Readable at a glance: thousands separated, small ratios with enough digits."""
    if value == float("inf"):
        return "inf"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (2 cores here: above 2 means other work is waiting for a core)."""
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def record(
    figure: str,
    measured: float,
    target: float,
    unit: str,
    *,
    better: str = "higher",
    reference: tuple[str, float] | None = None,
    load: str | None = None,
) -> None:
    """Print and record one figure; `reference` is (what, value in the same unit) measured in the same run, `load`
    the load average taken when the figure was measured (default: now)."""
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    ratio = measured / target if better == "higher" else target / measured if measured else float("inf")
    sign = ">=" if better == "higher" else "<="
    verdict = "met" if ratio >= 1 else "MISSED"
    load = load or load_average()
    compared = ""
    entry = {"figure": figure, "measured": measured, "target": target, "unit": unit, "better": better, "load": load}
    if reference is not None:
        label, value = reference
        entry |= {"reference": label, "reference_value": value, "same_run_ratio": measured / value if value else None}
        compared = f", {number(measured / value) if value else 'n/a'} x {label} ({number(value)} {unit})"
    print(
        f"{figure}: {number(measured)} {unit} (target {sign} {number(target)} {unit}, ratio {number(ratio)}, {verdict}"
        f"{compared}; load average {load})",
        flush=True,
    )
    path = os.environ.get("BENCH_FIGURES_FILE")
    if path:
        with open(path, "a") as sink:
            sink.write(json.dumps({**entry, "ratio": ratio}) + "\n")
