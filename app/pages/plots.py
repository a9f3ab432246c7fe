"""Plot pages: /plots/<name> (the plot with its table and links), /plots/<name>.svg (the image itself)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep, query_model
from app.pages.rendering import html_response, leaderboard_url, page_url, render_html
from app.schemas.leaderboard import LeaderboardQuery
from app.schemas.plots import PlotQuery
from app.services.plots import BOARD_PLOTS, axis_choices, build_plot, versus_axes
from app.templating import model_path
from worker.engine.benchmarks import get_benchmark

router = APIRouter()
QueryDep = Annotated[PlotQuery, Depends(query_model(PlotQuery))]
SVG_MEDIA_TYPE = "image/svg+xml"


@router.get("/plots/{name}.svg")
def plot_svg(name: str, session: SessionDep, query: QueryDep) -> Response:
    """One plot as an SVG image."""
    plot = build_plot(session, name, query)
    return Response(plot.svg, media_type=SVG_MEDIA_TYPE)


@router.get("/plots/{name}", response_class=HTMLResponse)
def plot_page(name: str, session: SessionDep, query: QueryDep) -> HTMLResponse:
    """One plot with its table, its SVG and JSON links, and (for board plots) the way back to the board."""
    plot = build_plot(session, name, query)
    definition = get_benchmark(query.benchmark)
    board_url = None
    if name in BOARD_PLOTS:
        board = LeaderboardQuery(
            benchmark=query.benchmark, model_type=query.model_type, q=query.q, source=query.source
        )
        board_url = leaderboard_url(board)
    context = {
        "active_nav": "Leaderboard" if board_url else "",
        "plot": plot,
        "board_url": board_url,
        "model_url": _model_url(query),
        "benchmark": definition,
        "query": query,
        "axes": versus_axes(definition, query) if name == "versus" else None,
        "axis_choices": axis_choices(definition) if name == "versus" else [],
    }
    return html_response(render_html("plot.html", context))


def _model_url(query: PlotQuery) -> str | None:
    if not query.model:
        return None
    return page_url("/models/" + model_path(query.model), {"result": query.result})
