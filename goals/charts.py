"""A goal's chart: its value over time against the target line and the pace line to the deadline.

Drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no global state),
in colours that read well on Discord's dark theme. The PNG carries the plotted numbers as a
JSON text chunk ("Description"), so what the picture shows can be checked exactly.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BACKGROUND = "#2b2d31"
PLOT_AREA = "#313338"
TEXT = "#dbdee1"
GRID = "#4e5058"
VALUE = "#57f287"
NOW = "#ffffff"
TARGET = "#fee75c"
PACE = "#eb459e"
FORECAST = "#5865f2"

Point = tuple[datetime, float]

# Figures are independent, but matplotlib's font cache and mathtext parser are shared and not
# thread-safe: charts drawn in worker threads are drawn one at a time.
_drawing = threading.Lock()
FIRST_DRAWABLE = mdates.date2num(datetime(1, 1, 2))
LAST_DRAWABLE = mdates.date2num(datetime(9999, 12, 30))


@dataclass(frozen=True)
class ChartData:
    title: str
    unit: str
    target: float
    values: list[Point]  # the goal's daily values
    now: Point | None  # its current value, drawn apart from the daily ones
    pace: list[Point]  # start to deadline
    forecast: list[Point]  # the fitted line over the same span, empty when there is none
    subtitle: str = ""

    def as_json(self) -> str:
        def points(items: list[Point]) -> list[list]:
            return [[moment.isoformat(), value] for moment, value in items]

        return json.dumps(
            {
                "title": self.title,
                "unit": self.unit,
                "target": self.target,
                "values": points(self.values),
                "now": points([self.now])[0] if self.now else None,
                "pace": points(self.pace),
                "forecast": points(self.forecast),
            }
        )


def goal_figure(data: ChartData) -> Figure:
    figure = Figure(figsize=(8, 4.5), dpi=100, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor(PLOT_AREA)

    if data.values:
        axes.plot(
            *zip(*data.values),
            color=VALUE,
            linewidth=2.2,
            marker="o",
            markersize=3.5,
            label="value",
            zorder=4,
        )
    if data.now is not None:
        axes.plot(
            [data.now[0]],
            [data.now[1]],
            linestyle="none",
            marker="D",
            markersize=7,
            color=NOW,
            markeredgecolor=VALUE,
            label="now",
            zorder=5,
        )
    axes.axhline(
        data.target, color=TARGET, linestyle="--", linewidth=1.6, label="target", zorder=3
    )
    if data.pace:
        axes.plot(*zip(*data.pace), color=PACE, linestyle=":", linewidth=2, label="pace", zorder=2)
    if data.forecast:
        axes.plot(
            *zip(*data.forecast),
            color=FORECAST,
            linestyle="-.",
            linewidth=1.4,
            label="forecast",
            zorder=2,
        )

    # The margins around a goal due near the year 9999 must not leave the dates matplotlib draws.
    left, right = axes.get_xlim()
    axes.set_xlim(max(left, FIRST_DRAWABLE), min(right, LAST_DRAWABLE))
    axes.set_ylim(bottom=min(0, *_all_values(data)), top=max(_all_values(data)) * 1.1 or 1)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    dates = mdates.ConciseDateFormatter(locator)
    dates.offset_formats = ["", "%Y", "%Y", "%Y", "%Y", "%Y %b %d"]
    axes.xaxis.set_major_formatter(dates)
    axes.grid(True, color=GRID, linewidth=0.6, alpha=0.7)
    for side in axes.spines.values():
        side.set_color(GRID)
    axes.tick_params(colors=TEXT, labelsize=9)
    axes.xaxis.get_offset_text().set_color(TEXT)
    # Names and units are shown as typed: a `$` must not start mathtext.
    if data.unit:
        axes.set_ylabel(data.unit, color=TEXT, parse_math=False)
    axes.set_title(
        data.title, color=TEXT, fontsize=13, fontweight="bold", loc="left", parse_math=False
    )
    if data.subtitle:
        axes.set_title(data.subtitle, color=TEXT, fontsize=9, loc="right", parse_math=False)
    legend = axes.legend(
        loc="best", fontsize=8, facecolor=BACKGROUND, edgecolor=GRID, framealpha=0.85
    )
    for text in legend.get_texts():
        text.set_color(TEXT)
    figure.tight_layout()
    return figure


def goal_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes."""
    buffer = io.BytesIO()
    with _drawing:
        figure = goal_figure(data)
        figure.savefig(
            buffer,
            format="png",
            facecolor=BACKGROUND,
            metadata={"Title": data.title, "Description": data.as_json()},
        )
    return buffer.getvalue()


def _all_values(data: ChartData) -> list[float]:
    values = [data.target] + [value for _, value in data.values + data.pace + data.forecast]
    if data.now is not None:
        values.append(data.now[1])
    return values
