"""The charts draw what they are given: values, target, alert band and gaps, as real PNGs."""

from __future__ import annotations

import gc
import io
import weakref

import numpy as np
import pandas as pd
import pytest
from matplotlib import _pylab_helpers
from PIL import Image

from kpitracker import charts

DAYS = pd.date_range("2021-09-01", "2021-09-30", freq="D")


def _series(missing: tuple[int, ...] = ()) -> pd.Series:
    values = [20.0 + (day % 7) * 3 for day in range(len(DAYS))]
    series = pd.Series(values, index=DAYS)
    return series.drop(DAYS[list(missing)])  # a missing day is absent, as in the snapshots


def _by_gid(axes, gid):
    found = [artist for artist in [*axes.lines, *axes.patches] if artist.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def _contrast(first, second) -> float:
    """WCAG contrast ratio of two sRGB colours given as 0-255 triples."""

    def luminance(rgb):
        channels = [value / 255 for value in rgb[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_trend_plots_the_values_with_gaps_for_missing_days():
    series = _series(missing=(3, 4, 10))
    figure = charts.trend_figure(series, title="wau", target=30, alert_line=24)
    axes = figure.axes[0]

    actual = _by_gid(axes, "actual")
    days = np.asarray(actual.get_xdata(), dtype="datetime64[D]")
    plotted = np.asarray(actual.get_ydata(), dtype=float)

    assert list(days) == list(DAYS.to_numpy(dtype="datetime64[D]"))  # every day has an x
    for number, day in enumerate(DAYS):
        if number in (3, 4, 10):
            assert np.isnan(plotted[number]), day  # a gap, not a zero
        else:
            assert plotted[number] == series[day]


def test_a_lone_day_between_gaps_is_drawn_as_a_dot():
    series = _series(missing=(3, 5))
    axes = charts.trend_figure(series, title="wau", target=30).axes[0]

    dots = _by_gid(axes, "isolated")

    assert list(np.asarray(dots.get_xdata(), dtype="datetime64[D]")) == [
        np.datetime64("2021-09-05")
    ]
    assert list(dots.get_ydata()) == [series[DAYS[4]]]


def test_target_line_and_alert_band_below_it_when_higher_is_better():
    axes = charts.trend_figure(_series(), title="wau", target=30, alert_line=24).axes[0]

    target = _by_gid(axes, "target")
    band = _by_gid(axes, "alert_band")
    low, high = axes.get_ylim()

    assert set(target.get_ydata()) == {30}
    assert set(_by_gid(axes, "alert_line").get_ydata()) == {24}
    assert band.get_y() == pytest.approx(low)
    assert band.get_y() + band.get_height() == pytest.approx(24)
    assert low <= 0 and high > max(_series())  # every value and the target are in view


def test_alert_band_above_the_line_when_lower_is_better():
    axes = charts.trend_figure(
        _series(), title="churn", target=30, alert_line=36, higher_is_better=False, unit="%"
    ).axes[0]

    band = _by_gid(axes, "alert_band")
    low, high = axes.get_ylim()

    assert band.get_y() == pytest.approx(36)
    assert band.get_y() + band.get_height() == pytest.approx(high)
    assert axes.yaxis.get_major_formatter()(20, 0) == "20%"


def test_no_target_no_band_and_empty_series_say_no_data():
    axes = charts.trend_figure(_series(), title="wau", target=None).axes[0]
    assert [line.get_gid() for line in axes.lines] == ["actual"]
    assert not axes.patches

    empty = charts.trend_figure(pd.Series([], dtype=float), title="wau", target=5).axes[0]
    assert not empty.lines
    assert [text.get_text() for text in empty.texts] == ["no data yet"]


def test_trend_png_signature_size_and_dark_theme():
    data = charts.trend_chart_png(_series(), title="wau", target=30, alert_line=24)

    assert data.startswith(charts.PNG_SIGNATURE)
    assert charts.png_size(data) == (1200, 600)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (1200, 600)
    corner = image.getpixel((2, 2))
    assert corner == (0x2B, 0x2D, 0x31)  # Discord's dark embed background
    plotted_colour = tuple(int(charts.ACTUAL[i : i + 2], 16) for i in (1, 3, 5))
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert plotted_colour in colours  # the line is really drawn
    for colour in (charts.ACTUAL, charts.TARGET, charts.TEXT):
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert _contrast(rgb, corner) >= 4.5, colour


def test_dashboard_has_a_panel_per_kpi_in_a_grid():
    panels = [
        charts.Panel(
            f"kpi {number}",
            _series() * (number + 1),
            target=30 * (number + 1),
            alert_line=24 * (number + 1),
            status="achieved",
        )
        for number in range(5)
    ]
    figure = charts.dashboard_figure(panels, title="dashboard")
    visible = [axes for axes in figure.axes if axes.get_visible()]

    assert len(visible) == 5 and len(figure.axes) == 6  # 3 x 2, the sixth cell hidden
    for number, axes in enumerate(visible):
        assert axes.get_title(loc="left") == f"kpi {number}"
        plotted = _by_gid(axes, "actual").get_ydata()
        assert list(plotted) == list(_series() * (number + 1))
        assert set(_by_gid(axes, "target").get_ydata()) == {30 * (number + 1)}

    data = charts.dashboard_png(panels, title="dashboard")
    assert data.startswith(charts.PNG_SIGNATURE)
    assert charts.png_size(data) == (3 * 480, 2 * 312 + 48)  # 4 x 2.6 in per panel at 120 dpi


@pytest.mark.parametrize("count, grid", [(1, (1, 1)), (2, (1, 2)), (4, (2, 2)), (16, (4, 4))])
def test_dashboard_grid_shape(count, grid):
    panels = [charts.Panel(str(n), _series(), target=1) for n in range(count)]
    figure = charts.dashboard_figure(panels)
    rows, columns = figure.axes[0].get_subplotspec().get_gridspec().get_geometry()
    assert (rows, columns) == grid


def test_figures_are_freed_and_pyplot_is_never_used():
    figure = charts.trend_figure(_series(), title="wau", target=30)
    freed = weakref.ref(figure)

    charts.figure_png(figure)
    del figure
    gc.collect()

    assert freed() is None
    for _ in range(3):
        charts.trend_chart_png(_series(), title="wau", target=30)
        charts.dashboard_png([charts.Panel("a", _series(), target=1)])
    assert _pylab_helpers.Gcf.get_all_fig_managers() == []


def test_png_size_refuses_other_bytes():
    with pytest.raises(ValueError):
        charts.png_size(b"GIF89a")


def test_titles_are_shown_as_typed():
    figure = charts.trend_figure(_series(), title="revenue in $ per $user", target=30)
    assert figure.axes[0].get_title(loc="left") == r"revenue in \$ per \$user"
    assert charts.figure_png(figure).startswith(charts.PNG_SIGNATURE)  # no math parse error
