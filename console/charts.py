"""Server-side SVG pictures for the operators' console.

matplotlib renders on the Agg canvas into SVG with text kept as text (`svg.fonttype: none`), so the page needs no
script, no web font and nothing from the internet. Each figure is sized for a laptop screen and labels its axes and
units. Artists carry ids (`gap-N`, `present-N`, `price`, `volatility`) so a test or a browser can find them.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
from matplotlib import dates as mdates
from matplotlib.figure import Figure

matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"})

WIDTH_IN = 11.0
MAX_POINTS = 2000
GAP_COLOURS = {"open": "#d62728", "backfilling": "#ff7f0e", "unfillable": "#7f7f7f", "filled": "#2ca02c"}
# Order books (issue 18): where a depth dataset's book was unknown (break until resync); drawn like a gap.
UNKNOWN_BOOK = "unknown book"
GAP_COLOURS[UNKNOWN_BOOK] = "#9467bd"
PRESENT_COLOUR = "#2ca02c"


@dataclass(frozen=True)
class GapSpan:
    start: datetime
    end: datetime
    status: str


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: drop the XML prolog and doctype


def _time_axis(axis) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    axis.xaxis.set_major_locator(locator)
    # Ticks carry their unit: hours as 05:00 (never a bare 05), days as 08 Aug, months as Aug 2024, seconds as
    # 23:54:20 (a capture of a minute or two spans seconds; "%S.%f" printed 20.000000).
    formatter = mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%H:%M:%S"],
        offset_formats=["", "%Y", "%b %Y", "%d %b %Y", "%d %b %Y", "%d %b %Y"],
    )
    axis.xaxis.set_major_formatter(formatter)
    axis.set_xlabel("time (UTC)")


def _present_spans(start: datetime, end: datetime, gaps: Sequence[GapSpan]) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end] not covered by a missing gap (filled gaps count as present)."""
    spans, cursor = [], start
    for gap in sorted((g for g in gaps if g.status != "filled"), key=lambda g: g.start):
        if gap.start > cursor:
            spans.append((cursor, gap.start))
        cursor = max(cursor, gap.end)
    if cursor < end:
        spans.append((cursor, end))
    return spans


def coverage_timeline_svg(*, start: datetime, end: datetime, gaps: Sequence[GapSpan], title: str) -> str:
    """Present data in green, each gap coloured by its status, over the dataset's life."""
    figure = Figure(figsize=(WIDTH_IN, 1.9))
    axis = figure.add_subplot()
    to_num = mdates.date2num
    for index, (span_start, span_end) in enumerate(_present_spans(start, end, gaps)):
        bars = axis.broken_barh(
            [(to_num(span_start), to_num(span_end) - to_num(span_start))], (0, 1), facecolors=PRESENT_COLOUR
        )
        bars.set_gid(f"present-{index}")
    for index, gap in enumerate(sorted(gaps, key=lambda g: g.start)):
        if gap.status == "filled":
            continue
        width = max(to_num(gap.end) - to_num(gap.start), (to_num(end) - to_num(start)) / 400)  # visible when tiny
        bars = axis.broken_barh([(to_num(gap.start), width)], (0, 1), facecolors=GAP_COLOURS.get(gap.status, "#d62728"))
        bars.set_gid(f"gap-{index}")
    axis.set_xlim(to_num(start), to_num(end))
    axis.set_ylim(0, 1)
    axis.set_yticks([])
    axis.set_title(title, loc="left")
    _time_axis(axis)
    handles = [matplotlib.patches.Patch(color=PRESENT_COLOUR, label="data present")]
    handles += [matplotlib.patches.Patch(color=c, label=f"gap: {s}") for s, c in GAP_COLOURS.items() if s != "filled"]
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=4, frameon=False)
    return _svg(figure)


def _thin(values: Sequence, step: int) -> list:
    return list(values[::step])


def price_volatility_svg(
    *,
    times: Sequence[datetime],
    close: Sequence[float],
    volatility: Sequence[float],
    pair: str,
    interval: str,
    volatility_label: str = "annualised volatility (%)",
) -> str:
    """Close price above, volatility beneath, on one time axis."""
    step = max(1, len(times) // MAX_POINTS)
    times, close, volatility = _thin(times, step), _thin(close, step), _thin(volatility, step)
    figure = Figure(figsize=(WIDTH_IN, 4.6))
    price_axis, volatility_axis = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    (price_line,) = price_axis.plot(times, close, color="#1f77b4", linewidth=1)
    price_line.set_gid("price")
    price_axis.set_ylabel("close price (quote currency)")
    price_axis.set_title(f"{pair} {interval} close price and volatility", loc="left")
    price_axis.grid(alpha=0.3)
    (volatility_line,) = volatility_axis.plot(times, volatility, color="#9467bd", linewidth=1)
    volatility_line.set_gid("volatility")
    volatility_axis.set_ylabel(volatility_label)
    volatility_axis.grid(alpha=0.3)
    _time_axis(volatility_axis)
    return _svg(figure)
