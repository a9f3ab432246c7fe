"""Model plots: one result's sections with their intervals, its subsets against the board, and its reward
margins per subset."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db.repositories import plots as repo
from app.db.repositories.intervals import scored_examples
from app.db.repositories.leaderboard import BoardFilter
from app.errors import NotFoundError
from app.schemas.models import ResultRead
from app.schemas.plots import PlotQuery
from app.services.presentation import svg_charts as charts
from app.services.presentation.model_detail import model_detail
from app.services.presentation.plots.figure import Plot, cell, drawn, interval_text
from app.templating import format_score
from worker.engine.benchmarks import get_benchmark

BOARD_VALUES_MAX = 200  # a strip's JSON lists the other models' values up to this many, else percentiles only


def _model_result(session: Session, query: PlotQuery) -> tuple[str, str, ResultRead]:
    if not query.model:
        raise NotFoundError("a model plot needs model=<org/name>")
    detail = model_detail(session, query.model)
    wanted = query.result if query.result is not None else next(iter(detail.current_result_ids), None)
    shown = next((result for result in detail.results if result.id == wanted), None)
    if shown is None:
        raise NotFoundError(f"model {query.model!r} has no result {wanted or ''}".strip())
    return detail.model, detail.display_name, shown


def _model_params(model: str, result: ResultRead) -> dict[str, str]:
    return {"model": model, "result": str(result.id)}


def sections_plot(session: Session, query: PlotQuery) -> Plot:
    """A result's Score and sections as bars, each with its 95% interval."""
    return result_sections_plot(*_model_result(session, query))


def result_sections_plot(model: str, name: str, result: ResultRead) -> Plot:
    """``sections_plot`` of a result already read."""
    rows = [charts.IntervalRow("Score", result.score, *(result.score_interval or (None, None)))]
    for section, value in result.sections.items():
        rows.append(
            charts.IntervalRow(section, value, *(result.section_intervals.get(section) or (None, None)))
        )
    title = f"{name}: sections of {result.benchmark_label}"
    description = (
        f"The Score and the {len(result.sections)} sections of result {result.id} "
        f"({result.model_type_label}) as bars (%), each with its 95% bootstrap interval as a whisker where "
        "one is stored."
    )
    svg, narrow = drawn(
        charts.interval_bars,
        rows,
        title=title,
        description=description,
        value_label="value (%)",
        ident=f"plot-sections-{result.id}",
    )
    table = [
        [
            cell(row.label),
            cell(format_score(row.value), numeric=True),
            cell(interval_text(row.low, row.high)),
        ]
        for row in rows
    ]
    notes = [result.interval_note] if result.interval_note else []
    data = {
        "model": model,
        "result_id": result.id,
        "benchmark": result.benchmark,
        "score": result.score,
        "score_interval": result.score_interval,
        "sections": result.sections,
        "section_intervals": result.section_intervals,
    }
    return Plot(
        "sections",
        title,
        description,
        svg,
        ["Part", "Value", "95% interval"],
        table,
        data,
        _model_params(model, result),
        notes,
        narrow_svg=narrow,
    )


def subset_strip(session: Session, query: PlotQuery) -> Plot:
    """A result's value on each subset against every other ranked model's value on it."""
    return result_subset_strip(session, *_model_result(session, query))


def result_subset_strip(session: Session, model: str, name: str, result: ResultRead) -> Plot:
    """``subset_strip`` of a result already read."""
    board_values: dict[str, list[float]] = defaultdict(list)
    for board_row in repo.board_subset_values(session, BoardFilter(benchmark=result.benchmark)):
        if board_row["result_id"] != result.id:
            board_values[board_row["subset"]].append(board_row["value"])
    rows = [charts.StripRow(s.subset, sorted(board_values[s.subset]), s.value) for s in result.subsets]
    title = f"{name}: each subset against the board"
    description = (
        f"For each of the {len(rows)} subsets of {result.benchmark_label}: this result's value (diamond) "
        "among the values of the other ranked models that have per-subset values (grey dots), in %."
    )
    svg, narrow = drawn(
        charts.strip,
        rows,
        title=title,
        description=description,
        value_label="value (%)",
        highlight_label=name,
        ident=f"plot-subset-strip-{result.id}",
    )
    table = []
    for row in rows:
        above = sum(1 for value in row.board if row.value is not None and value > row.value)
        median = statistics.median(row.board) if row.board else None
        table.append(
            [
                cell(row.label),
                cell(format_score(row.value), numeric=True),
                cell(format_score(median), numeric=True),
                cell(str(len(row.board)), numeric=True),
                cell(f"{above + 1} of {len(row.board) + 1}", numeric=True),
            ]
        )
    notes = [] if rows else ["This result has no per-subset values (a published board row)."]
    data = {
        "model": model,
        "result_id": result.id,
        "benchmark": result.benchmark,
        "subsets": [
            {
                "subset": row.label,
                "value": row.value,
                "board_models": len(row.board),
                "board_percentiles": _percentiles(row.board),
                "board": list(row.board) if len(row.board) <= BOARD_VALUES_MAX else None,
            }
            for row in rows
        ],
    }
    columns = ["Subset", "This model", "Board median", "Other models", "Place"]
    params = _model_params(model, result)
    return Plot(
        "subset-strip", title, description, svg, columns, table, data, params, notes, narrow_svg=narrow
    )


def margin(scores: Sequence[float | None], num_correct: int) -> float | None:
    """Worst correct candidate's score minus the best incorrect one's: above 0, every correct one won."""
    if any(score is None for score in scores) or not 0 < num_correct < len(scores):
        return None
    values = [float(score) for score in scores if score is not None]
    return min(values[:num_correct]) - max(values[num_correct:])


def margins_plot(session: Session, query: PlotQuery) -> Plot:
    """Per subset, the distribution of the reward margin (worst correct minus best incorrect)."""
    return result_margins_plot(session, *_model_result(session, query))


def result_margins_plot(session: Session, model: str, name: str, result: ResultRead) -> Plot:
    """``margins_plot`` of a result already read."""
    by_subset: dict[str, list[float]] = defaultdict(list)
    for example in scored_examples(session, result.id):
        value = margin(example.scores, example.num_correct)
        if value is not None:
            by_subset[example.subset].append(value)
    definition = get_benchmark(result.benchmark)
    order = [subset for subset in definition.subset_names if subset in by_subset]
    boxes = [charts.BoxRow(subset, *charts.five_numbers(by_subset[subset])) for subset in order]
    title = f"{name}: reward margins by subset"
    description = (
        f"For each subset, how far this model's worst correct answer scored above its best incorrect one "
        f"(in its own reward units; above 0 the example is won): box from the 25th to the 75th percentile, "
        f"line at the median, whiskers at the 5th and 95th percentiles. Result {result.id}."
    )
    svg, narrow = drawn(
        charts.box_rows,
        boxes,
        title=title,
        description=description,
        value_label="reward margin (the model's own units)",
        ident=f"plot-margins-{result.id}",
    )
    table = []
    for subset in order:
        values = by_subset[subset]
        low, _, median, _, high = charts.five_numbers(values)
        won = sum(1 for value in values if value > 0) / len(values)
        table.append(
            [
                cell(subset),
                cell(str(len(values)), numeric=True),
                cell(format_score(won), numeric=True),
                cell(f"{low:.3g}", numeric=True),
                cell(f"{median:.3g}", numeric=True),
                cell(f"{high:.3g}", numeric=True),
            ]
        )
    notes = [] if boxes else ["No per-example scores are stored for this result, so there are no margins."]
    data = {
        "model": model,
        "result_id": result.id,
        "benchmark": result.benchmark,
        "subsets": [
            {
                "subset": box.label,
                "p5": box.low,
                "p25": box.q1,
                "median": box.median,
                "p75": box.q3,
                "p95": box.high,
                "n": len(by_subset[box.label]),
            }
            for box in boxes
        ],
    }
    columns = ["Subset", "Examples", "Margin above 0 (%)", "5th percentile", "Median", "95th percentile"]
    params = _model_params(model, result)
    return Plot("margins", title, description, svg, columns, table, data, params, notes, narrow_svg=narrow)


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return dict(zip(("p5", "p25", "median", "p75", "p95"), charts.five_numbers(values), strict=True))
