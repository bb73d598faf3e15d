"""How a benchmark script reports a figure: printed for a person, and recorded for `make bench`'s table.

`record(...)` prints one line and, when BENCH_FIGURES_FILE is set (as bench/run_all.py sets it), appends the figure
as a JSON line there. `better` says which way is good, so the ratio is >= 1 exactly when the target is met.
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


def record(figure: str, measured: float, target: float, unit: str, *, better: str = "higher") -> None:
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    ratio = measured / target if better == "higher" else target / measured if measured else float("inf")
    sign = ">=" if better == "higher" else "<="
    verdict = "met" if ratio >= 1 else "MISSED"
    print(
        f"{figure}: {number(measured)} {unit} (target {sign} {number(target)} {unit}, ratio {number(ratio)}, {verdict})"
    )
    path = os.environ.get("BENCH_FIGURES_FILE")
    if path:
        entry = {"figure": figure, "measured": measured, "target": target, "unit": unit, "better": better}
        with open(path, "a") as sink:
            sink.write(json.dumps({**entry, "ratio": ratio}) + "\n")
