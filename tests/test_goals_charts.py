"""A goal's chart: a real PNG whose data points are the goal's values."""

from __future__ import annotations

import io
import json
import threading
from datetime import date, datetime, timedelta, timezone

import numpy
from matplotlib.text import Text
from PIL import Image

from goals import charts
from goals.charts import PACE, TARGET, VALUE, goal_chart, goal_figure
from goals.messages import chart_data
from goals.models import GoalType, new_goal
from goals.progress import assess
from goals_helpers import chart_points

NOW = datetime(2024, 1, 11, 9, tzinfo=timezone.utc)


def _goal_with_history():
    goal = new_goal(
        "Q1 Growth",
        GoalType.USERS,
        400,
        date(2024, 1, 31),
        datetime(2024, 1, 1, 8, tzinfo=timezone.utc),
    )
    for day, value in enumerate([120, 135, 150, 149, 170, 182, 190, 205, 214, 230], start=1):
        goal.values[date(2024, 1, day).isoformat()] = float(value)
    goal.values["2024-01-04"] = None  # a day with no data is not drawn
    history = goal.history()
    current = (NOW, 236.0)
    pace = assess(
        history=history,
        current=current,
        origin=None,
        start=goal.start,
        due=goal.due,
        target=goal.target,
        now=NOW,
    )
    return goal, pace, history, current


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _has_colour(image: Image.Image, colour: str, tolerance: int = 12, at_least: int = 40) -> bool:
    pixels = numpy.asarray(image.convert("RGB"), dtype=int)
    close = (numpy.abs(pixels - numpy.array(_hex(colour))) <= tolerance).all(axis=2)
    return int(close.sum()) >= at_least


def test_the_png_carries_the_goals_values_target_and_pace_line():
    goal, pace, history, current = _goal_with_history()

    png = goal_chart(chart_data(goal, pace, history, current, "users"))

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (800, 450)
    plotted = json.loads(image.text["Description"])
    expected = {
        f"{day}T00:00:00+00:00": value
        for day, value in (
            (date.fromisoformat(key) + timedelta(days=1), value)
            for key, value in goal.values.items()
        )
        if value is not None
    }
    assert dict(plotted["values"]) == expected
    assert len(plotted["values"]) == 9
    assert plotted["now"] == [NOW.isoformat(), 236.0]
    assert plotted["target"] == 400
    assert plotted["pace"] == [[goal.start.isoformat(), 120.0], [goal.due.isoformat(), 400.0]]
    assert plotted["forecast"][1] == [goal.due.isoformat(), pace.forecast]
    rgb = image.convert("RGB")
    for colour in (VALUE, TARGET, PACE):
        assert _has_colour(rgb, colour), colour


def test_the_figure_draws_exactly_those_points():
    goal, pace, history, current = _goal_with_history()

    figure = goal_figure(chart_data(goal, pace, history, current, "users"))

    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert list(lines["value"].get_ydata()) == [value for _, value in history]
    assert list(lines["target"].get_ydata()) == [400, 400]
    assert list(lines["now"].get_ydata()) == [236.0]
    assert axes.get_ylim()[0] == 0 and axes.get_ylim()[1] >= 400
    assert axes.get_title(loc="left") == "Q1 Growth"
    assert axes.get_facecolor()[:3] != (1.0, 1.0, 1.0)  # a dark plot, not white


def test_dollar_signs_in_names_are_drawn_as_typed():
    goal, pace, history, current = _goal_with_history()
    goal.name = "Budget $}$ goal"

    png = goal_chart(chart_data(goal, pace, history, current, "$"))
    goal.name = "Raise $5 and $10"
    figure = goal_figure(chart_data(goal, pace, history, current, "$"))

    assert chart_points(png)["title"] == "Budget $}$ goal"
    with_dollars = [text for text in figure.findobj(Text) if "$" in text.get_text()]
    assert {text.get_text() for text in with_dollars} == {"Raise $5 and $10", "$"}
    assert not any(text.get_parse_math() for text in with_dollars)


def test_charts_are_drawn_one_at_a_time():
    goal, pace, history, current = _goal_with_history()
    data = chart_data(goal, pace, history, current, "users")
    drawn = []

    with charts._drawing:
        worker = threading.Thread(target=lambda: drawn.append(goal_chart(data)))
        worker.start()
        worker.join(timeout=0.5)
        waiting = worker.is_alive()
    worker.join(timeout=30)

    assert waiting and len(drawn) == 1
