"""The digest chart: daily arrivals per level with SLA breaches marked, and daily SLA compliance.

Rendered headless with matplotlib's Agg canvas (no pyplot, no global state: safe in a worker thread) into
PNG bytes in memory. Made for Slack's preview (about 360 px wide): a square-ish picture, big type, three
colours for the levels, red for breaches, one line for compliance.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

LEVEL_COLOURS = {"L1": "#4C8BF5", "L2": "#F5A623", "L3": "#7E57C2"}
BREACH_COLOUR = "#D62728"
LINE_COLOUR = "#2E7D32"
WIDTH_IN, HEIGHT_IN, DPI = 7.2, 7.2, 100  # 720 x 720 px: half size in Slack's preview is still legible


@dataclass(frozen=True)
class ChartDay:
    """One day of the chart."""

    day: date
    arrivals: dict[str, int]
    breaches: int
    compliance: float | None  # share of SLA targets met in time that day (None: none ended)


def _label(day: date, many: bool) -> str:
    return f"{day.day}" if many else f"{day:%a}\n{day.day}"


def render_digest_chart(days: Sequence[ChartDay], *, title: str, compliance: float | None = None) -> bytes:
    """A PNG: stacked daily arrivals per level with breach counts on top, and SLA compliance per day
    (`compliance`: the whole period's, shown in the second title)."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.set_facecolor("white")
    grid = fig.add_gridspec(
        2, 1, height_ratios=(3, 2), hspace=0.3, left=0.14, right=0.97, top=0.8, bottom=0.1
    )
    volume = fig.add_subplot(grid[0])
    trend = fig.add_subplot(grid[1], sharex=volume)
    fig.suptitle(
        title, fontsize=26 if len(title) <= 26 else max(16, 26 * 26 // len(title)), fontweight="bold", y=0.98
    )
    xs = list(range(len(days)))
    many = len(days) > 10
    labels = [_label(d.day, many) for d in days]

    bottom = [0] * len(days)
    for level, colour in LEVEL_COLOURS.items():
        values = [d.arrivals.get(level, 0) for d in days]
        volume.bar(xs, values, bottom=bottom, color=colour, width=0.72, label=level)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    top = max(bottom, default=0)
    headroom = max(1.0, top * 0.28)
    for x, total, d in zip(xs, bottom, days, strict=True):
        if not d.breaches:
            continue
        if many:  # a month: a marker per day with breaches, the count is in the legend
            volume.plot(x, total + headroom * 0.22, marker="^", markersize=10, color=BREACH_COLOUR)
        else:
            volume.text(
                x,
                total + headroom * 0.12,
                f"▲{d.breaches}",
                ha="center",
                va="bottom",
                fontsize=19,
                fontweight="bold",
                color=BREACH_COLOUR,
            )
    volume.set_ylim(0, top + headroom)
    volume.set_title("New tickets per day", fontsize=20, loc="left", pad=42)
    volume.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    handles, names = volume.get_legend_handles_labels()
    breach = Line2D([], [], linestyle="none", marker="^", markersize=13, color=BREACH_COLOUR)
    volume.legend(
        [*handles, breach],
        [*names, f"SLA breaches ({sum(d.breaches for d in days)})"],
        loc="lower left",
        bbox_to_anchor=(-0.02, 0.98),
        ncols=4,
        fontsize=16,
        frameon=False,
        handlelength=0.9,
        handletextpad=0.35,
        columnspacing=0.9,
        borderaxespad=0.2,
    )

    points = [(x, d.compliance) for x, d in zip(xs, days, strict=True) if d.compliance is not None]
    if points:
        trend.plot(
            [x for x, _ in points],
            [c for _, c in points],
            color=LINE_COLOUR,
            linewidth=3.5,
            marker="o",
            markersize=9,
        )
    else:
        trend.text(0.5, 0.5, "no SLA targets ended", transform=trend.transAxes, ha="center", fontsize=16)
    trend.set_ylim(0, 1.08)
    trend.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    trend.set_yticks([0, 0.5, 1.0])
    overall = f" · {compliance:.0%} overall" if compliance is not None else ""
    trend.set_title(f"SLA targets met in time{overall}", fontsize=20, loc="left", pad=10)

    trend.set_xticks(xs, labels)
    trend.set_xlim(-0.6, len(days) - 0.4)
    volume.tick_params(axis="x", labelbottom=False)
    if many:  # a month: label every few days
        for index, label in enumerate(trend.get_xticklabels()):
            label.set_visible(index % 3 == 0)
    for axes in (volume, trend):
        axes.tick_params(labelsize=17, length=0)
        axes.grid(axis="y", color="#dddddd", linewidth=1)
        axes.set_axisbelow(True)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
