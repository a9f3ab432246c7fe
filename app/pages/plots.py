"""Plot pages: /plots/<name> (the plot with its table and links), /plots/<name>.svg (the image itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.deps import LeaderboardCacheDep, SessionDep, SessionFactoryDep, query_model
from app.errors import NotFoundError
from app.http.compression import precompressed
from app.pages.rendering import html_response, leaderboard_url, page_url, render_html
from app.schemas.leaderboard import LeaderboardQuery
from app.schemas.plots import PlotQuery
from app.services.presentation.leaderboard_cache import cached_body
from app.services.presentation.plots import BOARD_PLOTS, PLOTS, axis_choices, build_plot, versus_axes
from app.services.presentation.svg_charts import THEMES, themed
from app.templating import model_path
from worker.engine.benchmarks import get_benchmark

router = APIRouter()
QueryDep = Annotated[PlotQuery, Depends(query_model(PlotQuery))]
SVG_MEDIA_TYPE = "image/svg+xml"


@router.get("/plots/{name}.svg")
async def plot_svg(
    request: Request, name: str, query: QueryDep, cache: LeaderboardCacheDep, sessions: SessionFactoryDep
) -> Response:
    """One plot as an SVG image (``theme=dark`` for dark colours). Board plots are served from the
    leaderboard's cache while the data is unchanged."""
    if name not in PLOTS:
        raise NotFoundError(f"no plot {name!r}; plots: {', '.join(PLOTS)}")
    theme = THEMES[query.theme]

    def build(session: Session) -> bytes:
        plot = build_plot(session, name, query)
        svg = plot.narrow_svg if query.layout == "narrow" and plot.narrow_svg else plot.svg
        return themed(svg, theme).encode()

    if name in BOARD_PLOTS:
        key = ("svg", name, query.theme, query.layout, *query.cache_key())
        cached = cache.lookup(key)
        if cached is None:
            cached = await run_in_threadpool(cached_body, sessions, cache, key, build)
        body, headers = precompressed(
            request.headers.get("accept-encoding"), cached.body, cached.gzipped, cached.etag
        )
        return Response(body, media_type=SVG_MEDIA_TYPE, headers=headers)
    body = await run_in_threadpool(read_with_session, sessions, build)
    return Response(body, media_type=SVG_MEDIA_TYPE)


def read_with_session(sessions: sessionmaker[Session], build: Callable[[Session], bytes]) -> bytes:
    with sessions() as session:
        return build(session)


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
