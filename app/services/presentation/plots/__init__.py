"""The site's plots, each drawn from stored results, with a table of what it draws and a stable URL.

Board plots (``score-vs-parameters``, ``versus``: ``board.py``) read the stored aggregates of a benchmark's
ranked results with the leaderboard's filters; model plots (``sections``, ``subset-strip``, ``margins``:
``model.py``) read one result. Each builder returns a ``Plot`` (``figure.py``): the SVG, its text equivalent
(columns and rows), the plotted numbers (JSON) and the parameters of its URLs: ``/plots/<name>`` (page),
``/plots/<name>.svg``, ``/api/v1/plots/<name>``. ``score_by_iteration`` (``series.py``) draws a model
series' Score by iteration from numbers its caller gives.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.errors import NotFoundError
from app.schemas.plots import PlotQuery
from app.services.presentation.plots.board import (
    REFUSAL_AXES,
    axis_choices,
    score_vs_parameters,
    versus,
    versus_axes,
)
from app.services.presentation.plots.figure import Plot, board_params
from app.services.presentation.plots.model import (
    margin,
    margins_plot,
    result_margins_plot,
    result_sections_plot,
    result_subset_strip,
    sections_plot,
    subset_strip,
)
from app.services.presentation.plots.series import score_by_iteration

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


__all__ = [
    "BOARD_PLOTS",
    "MODEL_PLOTS",
    "PLOTS",
    "REFUSAL_AXES",
    "Plot",
    "axis_choices",
    "board_params",
    "build_plot",
    "margin",
    "result_margins_plot",
    "result_sections_plot",
    "result_subset_strip",
    "score_by_iteration",
    "versus_axes",
]
