"""The leaderboard page: / with a tab per benchmark; filters, search, sort and pages in the URL."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.deps import LeaderboardCacheDep, SessionFactoryDep, SettingsDep, query_model
from app.config import Settings
from app.db.session import unit_of_work
from app.http.compression import precompressed
from app.pages.rendering import leaderboard_url, page_url, pager, render_html, sort_url
from app.schemas.leaderboard import LEADERBOARD_RULE, LeaderboardPage, LeaderboardQuery, sort_keys
from app.schemas.plots import PlotQuery
from app.schemas.snapshots import SnapshotBoardPage, SnapshotBoardQuery
from app.services.operations.snapshot_board import board_at, model_types_at
from app.services.operations.snapshots import snapshot_root
from app.services.presentation.leaderboard import leaderboard_page, model_types
from app.services.presentation.leaderboard_cache import cached_body
from app.services.presentation.plots import REFUSAL_AXES, board_params, versus_axes
from worker.engine.benchmarks import BENCHMARKS, get_benchmark

router = APIRouter()


def _columns(page: LeaderboardPage) -> list[tuple[str, str]]:
    """(sort key, header) of the columns to show: the benchmark's sections that any row has, in order."""
    definition = get_benchmark(page.benchmark)
    shown = [
        (section.slug, section.name)
        for section in definition.sections
        if section.name in page.score_sections
        or any(row.sections.get(section.name) is not None for row in page.rows)
    ]
    columns = [("rank", "Rank"), ("model", "Model"), ("type", "Type"), ("score", "Score"), *shown]
    if any(row.published_score is not None for row in page.rows):
        columns.append(("published", "Published"))
    return [*columns, ("parameters", "Parameters"), ("source", "Source")]


def _legend(page: LeaderboardPage) -> list[tuple[str, str]]:
    """The marks used in the rows on this page, each explained once under the table."""
    legend = []
    if any(row.published_formula == "prior-sets-weighted" for row in page.rows):
        legend.append(
            ("†", "Published Score weights Prior Sets half: (4 sections + 0.5 × Prior Sets) / 4.5.")
        )
    if any(row.published_score is not None and row.published_formula is None for row in page.rows):
        legend.append(("≠", "Published Score does not match its sections under any known formula."))
    if any(row.parameters_source == "name" for row in page.rows):
        legend.append(
            ("*", "Parameter count read from the model's name: none is stored (hover for details).")
        )
    return legend


def _tab_url(query: LeaderboardQuery, benchmark: str) -> str:
    """The same view on another benchmark: filters kept, a sort by a section it lacks back to Score."""
    keeps_sort = query.sort in sort_keys(benchmark)
    return leaderboard_url(
        query,
        benchmark=benchmark,
        sort=query.sort if keeps_sort else "score",
        order=query.order if keeps_sort else None,
        page=1,
    )


def _sort_choices(benchmark: str) -> list[tuple[str, str]]:
    definition = get_benchmark(benchmark)
    plain = [("score", "Score"), ("rank", "Rank"), ("model", "Model"), ("type", "Type")]
    sections = [(section.slug, section.name) for section in definition.sections]
    return [*plain, *sections, ("parameters", "Parameters"), ("source", "Source"), ("date", "Date")]


@dataclass(frozen=True, slots=True)
class PlotLink:
    """A board plot as the leaderboard shows it: an image of its SVG that links to its page and table."""

    ident: str
    title: str
    alt: str
    params: dict[str, str]
    name: str

    @property
    def page_url(self) -> str:
        return page_url(f"/plots/{self.name}", self.params)

    @property
    def svg_url(self) -> str:
        return page_url(f"/plots/{self.name}.svg", self.params)

    @property
    def api_url(self) -> str:
        return page_url(f"/api/v1/plots/{self.name}", self.params)


def _board_plots(query: LeaderboardQuery) -> dict[str, object]:
    """The view's Score-against-parameters plot (an image: the page stays light) and its two-part plot."""
    if query.partial or query.hidden:
        return {"plot": None}
    plot_query = PlotQuery(
        benchmark=query.benchmark, model_type=query.model_type, q=query.q, source=query.source
    )
    definition = get_benchmark(query.benchmark)
    params = board_params(plot_query)
    x, y = versus_axes(definition, plot_query)
    refusal = (x, y) == REFUSAL_AXES
    plot = PlotLink(
        "score-vs-parameters",
        f"{definition.label}: Score against parameter count",
        "Score against parameter count (log scale) of the ranked models in this view, by model type; "
        "the numbers are in the plot's table.",
        params,
        "score-vs-parameters",
    )
    versus = PlotLink(
        "versus",
        f"The refusal picture: {y} against {x}" if refusal else f"Plot {y} against {x}",
        f"{y} against {x} across the ranked models in this view.",
        {**params, "x": x, "y": y},
        "versus",
    )
    return {"plot": plot, "versus": versus}


def render_leaderboard(session: Session, query: LeaderboardQuery) -> bytes:
    page = leaderboard_page(session, query)
    return _render(query, page, model_types(session, query.benchmark))


def render_snapshot_board(
    sessions: sessionmaker[Session], settings: Settings, query: SnapshotBoardQuery
) -> bytes:
    """The board as it was at ``query.snapshot`` (a 404 page for a date without a snapshot)."""
    assert query.snapshot is not None
    root = snapshot_root(settings)
    with unit_of_work(sessions) as session:
        page = board_at(session, root, query, query.snapshot)
        types = model_types_at(session, root, query.benchmark, query.snapshot)
    return _render(query, page, types)


def _render(query: LeaderboardQuery, page: LeaderboardPage, types: list[tuple[str, str]]) -> bytes:
    snapshot = page.snapshot if isinstance(page, SnapshotBoardPage) else None
    columns = _columns(page)
    pages = max(1, -(-page.total // query.per_page))
    csv_query = leaderboard_url(query, format="csv", page=1, per_page=1000).partition("?")[2]
    definition = get_benchmark(query.benchmark)
    choices = _sort_choices(query.benchmark)
    return render_html(
        "leaderboard.html",
        {
            "active_nav": "Leaderboard",
            "page": page,
            "query": query,
            "benchmark": definition,
            "tabs": [
                (other.label, _tab_url(query, other.id), other.id == query.benchmark)
                for other in BENCHMARKS.values()
            ],
            "columns": columns,
            "section_keys": {section.slug for section in definition.sections},
            "sort_links": {key: sort_url(query, key) for key, _ in columns if key != "published"},
            "sort_choices": choices,
            "sort_label": dict(choices).get(query.sort, query.sort),
            "model_types": types,
            "rule": LEADERBOARD_RULE,
            "pages": pages,
            "pager": pager(query.page, pages, lambda number: leaderboard_url(query, page=number)),
            "legend": _legend(page),
            "without_interval": sum(1 for row in page.rows if row.interval_note),
            "partial_url": leaderboard_url(query, partial=not query.partial, page=1),
            "hidden_url": leaderboard_url(query, hidden=not query.hidden, partial=False, page=1),
            "csv_url": "/api/v1/leaderboard?" + csv_query,
            "interval_notes": sorted({row.interval_note for row in page.rows if row.interval_note}),
            **({"plot": None} if snapshot else _board_plots(query)),
            "snapshot": snapshot,
            "today_url": leaderboard_url(query, snapshot=None, page=1),
        },
    )


@router.get("/", response_class=HTMLResponse)
async def leaderboard(
    request: Request,
    cache: LeaderboardCacheDep,
    sessions: SessionFactoryDep,
    settings: SettingsDep,
    query: Annotated[SnapshotBoardQuery, Depends(query_model(SnapshotBoardQuery))],
) -> HTMLResponse:
    """The leaderboard (``?snapshot=YYYY-MM-DD``: as it was in that day's data snapshot)."""
    if query.snapshot is not None:
        return HTMLResponse(await run_in_threadpool(render_snapshot_board, sessions, settings, query))
    # Async like the JSON leaderboard: a cache hit needs neither the database nor a worker thread.
    key = ("html", *query.cache_key())
    cached = cache.lookup(key)
    if cached is None:
        cached = await run_in_threadpool(
            cached_body, sessions, cache, key, partial(render_leaderboard, query=query)
        )
    body, headers = precompressed(
        request.headers.get("accept-encoding"), cached.body, cached.gzipped, cached.etag
    )
    return HTMLResponse(body, headers=headers)
