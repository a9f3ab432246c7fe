"""The site's plots, each drawn from stored results, with a table of what it draws and a stable URL.

Board plots (``score-vs-parameters``, ``versus``) read the stored aggregates of a benchmark's ranked results
with the leaderboard's filters; model plots (``sections``, ``subset-strip``, ``margins``) read one result.
Each builder returns a ``Plot``: the SVG, its text equivalent (columns and rows), the plotted numbers (JSON)
and the parameters of its URLs: ``/plots/<name>`` (page), ``/plots/<name>.svg``, ``/api/v1/plots/<name>``.
``score_by_iteration`` draws a model series' Score by iteration from numbers its caller gives.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.repositories import plots as repo
from app.db.repositories.leaderboard import BoardFilter
from app.errors import NotFoundError
from app.schemas.models import ResultRead
from app.schemas.plots import PlotCell, PlotQuery, PlotRead
from app.services import svg_charts as charts
from app.services.model_detail import model_detail
from app.templating import format_parameters, format_score, model_path
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import Benchmark
from worker.engine.kinds import KINDS

# The refusal picture (RewardBench's XSTest pair): drawn for any benchmark that has both subsets.
REFUSAL_AXES = ("xstest-should-respond", "xstest-should-refuse")
BOARD_VALUES_MAX = 200  # a strip's JSON lists the other models' values up to this many, else percentiles only


@dataclass(frozen=True, slots=True)
class Plot:
    name: str
    title: str
    description: str
    svg: str
    columns: list[str]
    rows: list[list[PlotCell]]
    data: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def url(self, suffix: str = "", prefix: str = "/plots/") -> str:
        query = urlencode(self.params)
        return f"{prefix}{self.name}{suffix}" + (f"?{query}" if query else "")

    @property
    def page_url(self) -> str:
        return self.url()

    @property
    def svg_url(self) -> str:
        return self.url(".svg")

    @property
    def api_url(self) -> str:
        return self.url(prefix="/api/v1/plots/")

    def read(self) -> PlotRead:
        return PlotRead(
            name=self.name,
            title=self.title,
            description=self.description,
            page_url=self.page_url,
            svg_url=self.svg_url,
            columns=self.columns,
            rows=self.rows,
            notes=self.notes,
            data=self.data,
        )


def _cell(text: str, href: str | None = None, *, numeric: bool = False) -> PlotCell:
    return PlotCell(text=text, href=href, numeric=numeric)


def _model_cell(model: str, display_name: str) -> PlotCell:
    return _cell(display_name, "/models/" + model_path(model))


def _interval_text(low: float | None, high: float | None) -> str:
    return f"{format_score(low)}–{format_score(high)}" if low is not None and high is not None else "—"


def _kind_label(key: str) -> str:
    kind = KINDS.get(key)
    return kind.label if kind else key


def _board(query: PlotQuery) -> BoardFilter:
    return BoardFilter(
        benchmark=query.benchmark, model_type=query.model_type, search=query.q, source=query.source
    )


def board_params(query: PlotQuery) -> dict[str, str]:
    params = {"benchmark": query.benchmark}
    if query.model_type:
        params["model_type"] = query.model_type
    if query.q:
        params["q"] = query.q
    if query.source is not None:
        params["source"] = query.source.value
    return params


def _groups(keys: Sequence[str]) -> list[str]:
    """Model type labels in the registry's order."""
    present = set(keys)
    ordered = [kind.label for key, kind in KINDS.items() if key in present]
    return ordered + sorted({_kind_label(key) for key in present} - set(ordered))


# Board plots ---------------------------------------------------------------------------------------------


_SIZE_IN_NAME = re.compile(r"(?:^|[-_/ .])(\d+(?:\.\d+)?)([bBmM])(?=$|[-_/ .])")


def parameters_from_name(name: str) -> int | None:
    """The size a model's name states ("Llama-3.1-8B-RM" -> 8e9, "Qwen2.5-0.5B" -> 5e8), else None.

    Only a number directly followed by B or M between separators counts ("8x7B" and "v0.2" do not), and
    only when the name states one size.
    """
    found = _SIZE_IN_NAME.findall(name.rsplit("/", 1)[-1])
    if len(found) != 1:
        return None
    number, unit = found[0]
    return int(float(number) * (1e9 if unit in "bB" else 1e6))


def _size(row: RowMapping) -> tuple[int | None, bool]:
    """(parameter count, whether it was read from the model's name rather than stored)."""
    if row["parameters"]:
        return int(row["parameters"]), False
    from_name = parameters_from_name(row["model"])
    return from_name, from_name is not None


def _size_text(size: tuple[int | None, bool]) -> str:
    count, from_name = size
    return format_parameters(count) + (" (from the name)" if from_name else "")


def score_vs_parameters(session: Session, query: PlotQuery) -> Plot:
    """Score against parameter count (log scale), coloured and shaped by model type.

    A model without a stored parameter count is drawn pale at the size its name states, if it states one.
    """
    definition = get_benchmark(query.benchmark)
    rows = repo.board_scores(session, _board(query))
    sizes = {row["result_id"]: _size(row) for row in rows}
    plotted = [row for row in rows if sizes[row["result_id"]][0] and row["score"] is not None]
    points = [
        charts.Point(
            float(sizes[row["result_id"]][0] or 0),
            row["score"],
            row["display_name"],
            _kind_label(row["model_type"]),
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
    svg = charts.scatter(
        points,
        title=title,
        description=description,
        x_label="parameters (log scale)",
        y_label="Score",
        x_log=True,
        groups=_groups([row["model_type"] for row in plotted]),
        empty="No ranked model in this view has a known parameter count.",
        ident="plot-score-vs-parameters",
    )
    table = [
        [
            _model_cell(row["model"], row["display_name"]),
            _cell(_kind_label(row["model_type"])),
            _cell(_size_text(sizes[row["result_id"]]), numeric=True),
            _cell(format_score(row["score"]), numeric=True),
            _cell(_interval_text(row["score_low"], row["score_high"]), numeric=True),
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
                "score_interval": _pair(row["score_low"], row["score_high"]),
            }
            for row in rows
        ],
    }
    columns = ["Model", "Type", "Parameters", "Score", "95% interval"]
    return Plot(
        "score-vs-parameters", title, description, svg, columns, table, data, board_params(query), notes
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
        rows = repo.board_section_values(session, _board(query), name)
    elif definition.subset(name) is not None:
        rows = repo.board_subset_values(session, _board(query), name)
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
            xs[rid]["value"], ys[rid]["value"], xs[rid]["display_name"], _kind_label(xs[rid]["model_type"])
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
    svg = charts.scatter(
        points,
        title=title,
        description=description,
        x_label=x_name,
        y_label=y_name,
        groups=_groups([xs[rid]["model_type"] for rid in both]),
        empty="No ranked model in this view has values for both.",
        ident="plot-versus",
    )
    table = [
        [
            _model_cell(xs[rid]["model"], xs[rid]["display_name"]),
            _cell(_kind_label(xs[rid]["model_type"])),
            _cell(format_score(xs[rid]["value"]), numeric=True),
            _cell(format_score(ys[rid]["value"]), numeric=True),
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
        "versus", title, description, svg, ["Model", "Type", x_name, y_name], table, data, params, notes
    )


# Model plots ---------------------------------------------------------------------------------------------


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
    svg = charts.interval_bars(
        rows, title=title, description=description, value_label="value (%)", ident="plot-sections"
    )
    table = [
        [
            _cell(row.label),
            _cell(format_score(row.value), numeric=True),
            _cell(_interval_text(row.low, row.high)),
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
        "among the values of every other ranked model on the board (grey dots), in %."
    )
    svg = charts.strip(
        rows, title=title, description=description, value_label="value (%)", highlight_label=name
    )
    table = []
    for row in rows:
        above = sum(1 for value in row.board if row.value is not None and value > row.value)
        median = statistics.median(row.board) if row.board else None
        table.append(
            [
                _cell(row.label),
                _cell(format_score(row.value), numeric=True),
                _cell(format_score(median), numeric=True),
                _cell(str(len(row.board)), numeric=True),
                _cell(f"{above + 1} of {len(row.board) + 1}", numeric=True),
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
    return Plot(
        "subset-strip", title, description, svg, columns, table, data, _model_params(model, result), notes
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
    for row in repo.example_scores(session, result.id):
        value = margin(row["scores"], row["num_correct"])
        if value is not None:
            by_subset[row["subset"]].append(value)
    definition = get_benchmark(result.benchmark)
    order = [subset for subset in definition.subset_names if subset in by_subset]
    boxes = [charts.BoxRow(subset, *charts.five_numbers(by_subset[subset])) for subset in order]
    title = f"{name}: reward margins by subset"
    description = (
        f"For each subset, how far this model's worst correct answer scored above its best incorrect one "
        f"(in its own reward units; above 0 the example is won): box from the 25th to the 75th percentile, "
        f"line at the median, whiskers at the 5th and 95th percentiles. Result {result.id}."
    )
    svg = charts.box_rows(
        boxes, title=title, description=description, value_label="reward margin", ident="plot-margins"
    )
    table = []
    for subset in order:
        values = by_subset[subset]
        low, _, median, _, high = charts.five_numbers(values)
        won = sum(1 for value in values if value > 0) / len(values)
        table.append(
            [
                _cell(subset),
                _cell(str(len(values)), numeric=True),
                _cell(format_score(won), numeric=True),
                _cell(f"{low:.3g}", numeric=True),
                _cell(f"{median:.3g}", numeric=True),
                _cell(f"{high:.3g}", numeric=True),
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
    return Plot("margins", title, description, svg, columns, table, data, _model_params(model, result), notes)


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return dict(zip(("p5", "p25", "median", "p75", "p95"), charts.five_numbers(values), strict=True))


# Series --------------------------------------------------------------------------------------------------


def score_by_iteration(
    series: str,
    iterations: Sequence[tuple[str, float | None, tuple[float, float] | None]],
    *,
    params: Mapping[str, str] | None = None,
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
    svg = charts.line_with_intervals(
        rows, title=title, description=description, value_label="Score", ident="plot-score-by-iteration"
    )
    table = [
        [
            _cell(row.label),
            _cell(format_score(row.value), numeric=True),
            _cell(_interval_text(row.low, row.high)),
        ]
        for row in rows
    ]
    data = {
        "series": series,
        "iterations": [
            {"label": row.label, "score": row.value, "score_interval": _pair(row.low, row.high)}
            for row in rows
        ],
    }
    columns = ["Iteration", "Score", "95% interval"]
    return Plot("score-by-iteration", title, description, svg, columns, table, data, dict(params or {}))


# Registry ------------------------------------------------------------------------------------------------

Builder = Callable[[Session, PlotQuery], Plot]
BOARD_PLOTS: dict[str, Builder] = {"score-vs-parameters": score_vs_parameters, "versus": versus}
MODEL_PLOTS: dict[str, Builder] = {
    "sections": sections_plot,
    "subset-strip": subset_strip,
    "margins": margins_plot,
}
PLOTS: dict[str, Builder] = {**BOARD_PLOTS, **MODEL_PLOTS}


def build_plot(session: Session, name: str, query: PlotQuery) -> Plot:
    builder = PLOTS.get(name)
    if builder is None:
        raise NotFoundError(f"no plot {name!r}; plots: {', '.join(PLOTS)}")
    return builder(session, query)


def _pair(low: float | None, high: float | None) -> list[float] | None:
    return [low, high] if low is not None and high is not None else None
