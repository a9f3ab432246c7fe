"""A model series' Score by iteration, from the numbers its caller gives (the series page reads them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.services.presentation import svg_charts as charts
from app.services.presentation.plots.figure import Plot, cell, drawn, interval_text, pair
from app.templating import format_score


def score_by_iteration(
    series: str,
    iterations: Sequence[tuple[str, float | None, tuple[float, float] | None]],
    *,
    params: Mapping[str, str] | None = None,
    ident: str = "plot-score-by-iteration",
) -> Plot:
    """A model series' Score by iteration: (iteration label, Score, 95% interval or None), in order."""
    rows = [
        charts.IntervalRow(label, score, *(interval or (None, None))) for label, score, interval in iterations
    ]
    title = f"{series}: Score by iteration"
    description = (
        f"The Score (%) of each of the {len(rows)} iterations of {series}, in order, joined by a line; "
        "whiskers are 95% bootstrap intervals where stored."
    )
    svg, narrow = drawn(
        charts.line_with_intervals,
        rows,
        title=title,
        description=description,
        value_label="Score (%)",
        ident=ident,
    )
    table = [
        [
            cell(row.label),
            cell(format_score(row.value), numeric=True),
            cell(interval_text(row.low, row.high)),
        ]
        for row in rows
    ]
    data = {
        "series": series,
        "iterations": [
            {"label": row.label, "score": row.value, "score_interval": pair(row.low, row.high)}
            for row in rows
        ],
    }
    columns = ["Iteration", "Score", "95% interval"]
    return Plot(
        "score-by-iteration",
        title,
        description,
        svg,
        columns,
        table,
        data,
        dict(params or {}),
        narrow_svg=narrow,
    )
