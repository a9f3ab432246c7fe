"""Board plots: Score against parameter count by model type, and two parts against each other (by default
the refusal picture), over a benchmark's ranked results with the leaderboard's filters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.repositories import plots as repo
from app.errors import NotFoundError
from app.schemas.plots import PlotQuery
from app.services.presentation import svg_charts as charts
from app.services.presentation.parameters import describe, parameter_count
from app.services.presentation.plots.figure import (
    Plot,
    board_filter,
    board_params,
    cell,
    drawn,
    interval_text,
    kind_groups,
    kind_label,
    model_cell,
    pair,
)
from app.templating import format_score
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import Benchmark

# The refusal picture (RewardBench's XSTest pair): drawn for any benchmark that has both subsets.
REFUSAL_AXES = ("xstest-should-respond", "xstest-should-refuse")


def _size(row: RowMapping) -> tuple[int | None, bool]:
    """(parameter count, whether it was read from the model's name rather than stored)."""
    count = parameter_count(row["model"], row["parameters"])
    return count.total, count.source == "name"


def _size_text(row: RowMapping) -> str:
    count = parameter_count(row["model"], row["parameters"])
    return describe(count) + (" (from the name)" if count.source == "name" else "")


def score_vs_parameters(session: Session, query: PlotQuery) -> Plot:
    """Score against parameter count (log scale), coloured and shaped by model type.

    A model without a stored parameter count is drawn pale at the size its name states, if it states one.
    """
    definition = get_benchmark(query.benchmark)
    rows = repo.board_scores(session, board_filter(query))
    sizes = {row["result_id"]: _size(row) for row in rows}
    plotted = [row for row in rows if sizes[row["result_id"]][0] and row["score"] is not None]
    points = [
        charts.Point(
            float(sizes[row["result_id"]][0] or 0),
            row["score"],
            row["display_name"],
            kind_label(row["model_type"]),
            estimated=sizes[row["result_id"]][1],
        )
        for row in plotted
    ]
    from_names = sum(1 for point in points if point.estimated)
    title = f"{definition.label}: Score against parameter count"
    description = (
        f"{len(points)} ranked models of {definition.label}: each mark is one model, its Score (up, %) "
        "against its parameter count (across, log scale), coloured and shaped by model type."
    )
    if from_names:
        description += (
            f" {from_names} pale marks: no parameter count is stored, so the size is the one the model's "
            "name states."
        )
    svg, narrow = drawn(
        charts.scatter,
        points,
        title=title,
        description=description,
        x_label="Parameters (log scale)",
        y_label="Score (%)",
        x_log=True,
        groups=kind_groups([row["model_type"] for row in plotted]),
        empty="No ranked model in this view has a known parameter count.",
        ident="plot-score-vs-parameters",
    )
    table = [
        [
            model_cell(row["model"], row["display_name"]),
            cell(kind_label(row["model_type"])),
            cell(_size_text(row), numeric=True),
            cell(format_score(row["score"]), numeric=True),
            cell(interval_text(row["score_low"], row["score_high"]), numeric=True),
        ]
        for row in rows
    ]
    notes = []
    left_out = len(rows) - len(points)
    if left_out:
        notes.append(
            f"{left_out} of {len(rows)} models have no stored parameter count and none in their name: "
            "they are in the table only."
        )
    data = {
        "benchmark": definition.id,
        "points": [
            {
                "model": row["model"],
                "model_type": row["model_type"],
                "parameters": row["parameters"],
                "parameters_from_name": sizes[row["result_id"]][0] if sizes[row["result_id"]][1] else None,
                "score": row["score"],
                "score_interval": pair(row["score_low"], row["score_high"]),
            }
            for row in rows
        ],
    }
    columns = ["Model", "Type", "Parameters", "Score", "95% interval"]
    return Plot(
        "score-vs-parameters",
        title,
        description,
        svg,
        columns,
        table,
        data,
        board_params(query),
        notes,
        narrow_svg=narrow,
    )


def versus_axes(definition: Benchmark, query: PlotQuery) -> tuple[str, str]:
    """The two parts a versus plot draws: those asked for, else the refusal pair, else two Score sections."""
    if query.x and query.y:
        return query.x, query.y
    if all(definition.subset(name) is not None for name in REFUSAL_AXES):
        return REFUSAL_AXES
    sections = [section.name for section in definition.score_sections()]
    return sections[0], sections[1] if len(sections) > 1 else sections[0]


def axis_choices(definition: Benchmark) -> list[str]:
    """Sections, then subsets, that a versus plot can put on an axis."""
    names = [section.name for section in definition.sections]
    return names + [subset.name for subset in definition.subsets if subset.name not in names]


def _part_values(session: Session, query: PlotQuery, definition: Benchmark, name: str) -> dict[int, Any]:
    if definition.section(name) is not None:
        rows = repo.board_section_values(session, board_filter(query), name)
    elif definition.subset(name) is not None:
        rows = repo.board_subset_values(session, board_filter(query), name)
    else:
        known = ", ".join(axis_choices(definition))
        raise NotFoundError(f"{definition.label} has no section or subset {name!r}; known: {known}")
    return {row["result_id"]: row for row in rows}


def versus(session: Session, query: PlotQuery) -> Plot:
    """Two parts of the benchmark against each other across models (by default the refusal picture)."""
    definition = get_benchmark(query.benchmark)
    x_name, y_name = versus_axes(definition, query)
    xs = _part_values(session, query, definition, x_name)
    ys = _part_values(session, query, definition, y_name)
    both = sorted(xs.keys() & ys.keys(), key=lambda result_id: -ys[result_id]["value"])
    points = [
        charts.Point(
            xs[rid]["value"], ys[rid]["value"], xs[rid]["display_name"], kind_label(xs[rid]["model_type"])
        )
        for rid in both
    ]
    refusal = (x_name, y_name) == REFUSAL_AXES
    if refusal:
        title = f"{definition.label}: refusing the unsafe against answering the safe"
        description = (
            f"{len(points)} ranked models: accuracy on {y_name} (up: prefers refusing prompts that should be "
            f"refused) against {x_name} (across: prefers answering safe prompts that only look unsafe). Top "
            "right is good at both; top left refuses too much; bottom right answers too much."
        )
    else:
        title = f"{definition.label}: {y_name} against {x_name}"
        description = f"{len(points)} ranked models: {y_name} (up, %) against {x_name} (across, %)."
    svg, narrow = drawn(
        charts.scatter,
        points,
        title=title,
        description=description,
        x_label=f"{x_name} (%)",
        y_label=f"{y_name} (%)",
        groups=kind_groups([xs[rid]["model_type"] for rid in both]),
        empty="No ranked model in this view has values for both.",
        ident="plot-versus",
    )
    table = [
        [
            model_cell(xs[rid]["model"], xs[rid]["display_name"]),
            cell(kind_label(xs[rid]["model_type"])),
            cell(format_score(xs[rid]["value"]), numeric=True),
            cell(format_score(ys[rid]["value"]), numeric=True),
        ]
        for rid in both
    ]
    notes = []
    left_out = len(xs.keys() ^ ys.keys())
    if left_out:
        notes.append(f"{left_out} models have only one of the two values and are left out.")
    data = {
        "benchmark": definition.id,
        "x": x_name,
        "y": y_name,
        "points": [
            {
                "model": xs[rid]["model"],
                "model_type": xs[rid]["model_type"],
                "x": xs[rid]["value"],
                "y": ys[rid]["value"],
            }
            for rid in both
        ],
    }
    params = {**board_params(query), "x": x_name, "y": y_name}
    return Plot(
        "versus",
        title,
        description,
        svg,
        ["Model", "Type", f"{x_name} (%)", f"{y_name} (%)"],
        table,
        data,
        params,
        notes,
        narrow_svg=narrow,
    )
