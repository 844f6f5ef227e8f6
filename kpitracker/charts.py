"""KPI charts as PNG bytes: a trend chart per KPI and a dashboard of all of them.

Pure drawing: the functions take pandas Series of daily values (NaN where a day has no value)
and return PNG bytes. They use matplotlib's object-oriented API on the Agg canvas and never
pyplot, so no figure is kept in a global registry: each figure is dropped, and collected, as
soon as its PNG is written. The colours are chosen for Discord's dark theme.
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BACKGROUND = "#2B2D31"  # Discord's dark embed background
PLOT_AREA = "#313338"  # Discord's dark chat background
TEXT = "#DBDEE1"
MUTED = "#949BA4"
GRID = "#4E5058"
ACTUAL = "#00A8FC"
TARGET = "#57F287"
ALERT = "#ED4245"
STATUS_COLOURS = {"achieved": TARGET, "behind": "#FEE75C", "alert": ALERT, "no data": MUTED}

TREND_SIZE = (8.0, 4.0)  # inches
TREND_DPI = 150  # 1200 x 600 pixels
PANEL_SIZE = (4.0, 2.6)
DASHBOARD_DPI = 120
MAX_COLUMNS = 4

# Agg keeps shared state (the font cache, the text layout cache); a report renders its charts
# in a worker thread, and two reports may render at once.
_drawing = threading.Lock()


@dataclass(frozen=True)
class Panel:
    """One KPI in the dashboard: its daily values and how to read them."""

    title: str
    series: pd.Series
    target: float | None
    alert_line: float | None = None
    higher_is_better: bool = True
    unit: str = ""
    status: str = "no data"  # a key of STATUS_COLOURS


def daily(series: pd.Series) -> pd.Series:
    """The series on a complete daily index from its first to its last day, NaN where missing."""
    if series.empty:
        return series.astype(float)
    index = pd.DatetimeIndex(pd.to_datetime(series.index)).normalize()
    values = pd.Series(series.to_numpy(dtype=float, na_value=np.nan), index=index)
    values = values[~values.index.duplicated(keep="last")].sort_index()
    full = pd.date_range(values.index[0], values.index[-1], freq="D")
    return values.reindex(full)


def trend_figure(
    series: pd.Series,
    *,
    title: str,
    target: float | None,
    alert_line: float | None = None,
    higher_is_better: bool = True,
    unit: str = "",
) -> Figure:
    """The trend chart of one KPI as a matplotlib Figure (see `trend_chart_png`)."""
    figure = Figure(figsize=TREND_SIZE, dpi=TREND_DPI, facecolor=BACKGROUND, layout="constrained")
    axes = figure.add_subplot()
    _draw_trend(axes, daily(series), target, alert_line, higher_is_better, unit, legend=True)
    axes.set_title(_literal(title), color=TEXT, fontsize=12, loc="left", pad=10)
    return figure


def trend_chart_png(
    series: pd.Series,
    *,
    title: str,
    target: float | None,
    alert_line: float | None = None,
    higher_is_better: bool = True,
    unit: str = "",
) -> bytes:
    """A KPI's daily values with its target line and alert band, as a 1200 x 600 PNG.

    `series` is indexed by day; NaN days are drawn as gaps, never as zeros. The band covers the
    alert side of `alert_line`: below it when higher is better, above it otherwise.
    """
    with _drawing:
        figure = trend_figure(
            series,
            title=title,
            target=target,
            alert_line=alert_line,
            higher_is_better=higher_is_better,
            unit=unit,
        )
        return figure_png(figure)


def dashboard_figure(panels: list[Panel], *, title: str = "") -> Figure:
    """All the panels in a grid, up to four columns wide (see `dashboard_png`)."""
    count = max(len(panels), 1)
    columns = min(MAX_COLUMNS, count if count <= 2 else max(2, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    size = (PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows + (0.4 if title else 0))
    figure = Figure(figsize=size, dpi=DASHBOARD_DPI, facecolor=BACKGROUND, layout="constrained")
    if title:
        figure.suptitle(_literal(title), color=TEXT, fontsize=13, x=0.01, ha="left")
    grid = figure.subplots(rows, columns, squeeze=False)
    for number, axes in enumerate(grid.flat):
        if number >= len(panels):
            axes.set_visible(False)
            continue
        panel = panels[number]
        _draw_trend(
            axes,
            daily(panel.series),
            panel.target,
            panel.alert_line,
            panel.higher_is_better,
            panel.unit,
            legend=False,
        )
        axes.set_title(_literal(panel.title), color=TEXT, fontsize=9, loc="left")
        for side in ("left", "right", "top", "bottom"):
            axes.spines[side].set_color(STATUS_COLOURS.get(panel.status, GRID))
            axes.spines[side].set_linewidth(1.5)
    return figure


def dashboard_png(panels: list[Panel], *, title: str = "") -> bytes:
    """Every panel's trend in one image, for a glance; the frame colour is the KPI's status."""
    with _drawing:
        return figure_png(dashboard_figure(panels, title=title))


def figure_png(figure: Figure) -> bytes:
    """Render a figure with Agg and free it: the figure is cleared and must not be reused."""
    buffer = io.BytesIO()
    try:
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    finally:
        figure.clear()
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height in pixels written in a PNG's header."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# -- drawing ---------------------------------------------------------------------------------


def _draw_trend(
    axes: Axes,
    values: pd.Series,
    target: float | None,
    alert_line: float | None,
    higher_is_better: bool,
    unit: str,
    *,
    legend: bool,
) -> None:
    _style(axes)
    if values.empty or values.isna().all():
        axes.text(
            0.5,
            0.5,
            "no data yet",
            transform=axes.transAxes,
            ha="center",
            va="center",
            color=MUTED,
            fontsize=11,
        )
        axes.set_xticks([])
        axes.set_yticks([])
        return

    days = values.index.to_numpy(dtype="datetime64[D]")
    numbers = values.to_numpy(dtype=float)
    (line,) = axes.plot(days, numbers, color=ACTUAL, linewidth=2, label="actual")
    line.set_gid("actual")

    # A day with a value but no neighbour draws no line segment; a dot keeps it visible.
    known = ~np.isnan(numbers)
    before = np.concatenate(([False], known[:-1]))
    after = np.concatenate((known[1:], [False]))
    alone = known & ~before & ~after
    if alone.any():
        (dots,) = axes.plot(
            days[alone], numbers[alone], linestyle="none", marker="o", markersize=4, color=ACTUAL
        )
        dots.set_gid("isolated")

    low, high = _value_range(numbers, target, alert_line)
    axes.set_ylim(low, high)
    if target is not None:
        axes.axhline(
            target,
            color=TARGET,
            linestyle="--",
            linewidth=1.5,
            label=f"target {_fmt(target, unit)}",
        ).set_gid("target")
    if alert_line is not None:
        edge = low if higher_is_better else high
        band = axes.axhspan(
            min(edge, alert_line),
            max(edge, alert_line),
            color=ALERT,
            alpha=0.18,
            linewidth=0,
            label=f"alert {'below' if higher_is_better else 'above'} {_fmt(alert_line, unit)}",
        )
        band.set_gid("alert_band")
        axes.axhline(alert_line, color=ALERT, linestyle=":", linewidth=1).set_gid("alert_line")
    axes.set_ylim(low, high)

    one_day = np.timedelta64(1, "D")
    if len(days) == 1:
        axes.set_xlim(days[0] - one_day, days[0] + one_day)
    else:
        axes.set_xlim(days[0], days[-1])
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)
    axes.xaxis.set_major_formatter(formatter)
    axes.xaxis.get_offset_text().set_color(MUTED)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _fmt(value, unit)))
    if legend:
        # Above the plot, right-aligned, so that it never hides a value.
        axes.legend(
            loc="lower right",
            bbox_to_anchor=(1, 1),
            ncols=3,
            fontsize=8,
            frameon=False,
            labelcolor=TEXT,
            borderaxespad=0.2,
        )


def _style(axes: Axes) -> None:
    axes.set_facecolor(PLOT_AREA)
    axes.tick_params(colors=MUTED, labelsize=8)
    axes.grid(True, color=GRID, linewidth=0.6, alpha=0.7)
    axes.set_axisbelow(True)
    for spine in axes.spines.values():
        spine.set_color(GRID)


def _value_range(numbers: np.ndarray, *lines: float | None) -> tuple[float, float]:
    """Limits that show every value and line with a margin, from 0 when all are positive."""
    known = [float(value) for value in numbers[~np.isnan(numbers)]]
    known += [float(line) for line in lines if line is not None]
    low, high = min(known), max(known)
    if low >= 0:
        low = 0.0
    span = high - low or abs(high) or 1.0
    return low - (0.02 * span if low < 0 else 0), high + 0.12 * span


def _fmt(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.1f}"
    if unit == "%":
        return f"{text}%"
    if unit in ("h", "hours"):
        return f"{text} h"
    if unit in ("d", "days"):
        return f"{text} d"
    return text


def _literal(text: str) -> str:
    """Text shown as typed: a `$` would otherwise start matplotlib's math notation."""
    return text.replace("$", r"\$")
