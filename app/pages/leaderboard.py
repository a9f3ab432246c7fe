"""The leaderboard page: / with filters, search, sort and pages in the URL."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import LeaderboardCacheDep, SessionFactoryDep, query_model
from app.pages.rendering import html_response, leaderboard_url, render_html, sort_url
from app.schemas.leaderboard import LEADERBOARD_RULE, LeaderboardQuery
from app.services.leaderboard import cached_body, leaderboard_page, model_types

router = APIRouter()

COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "Rank"),
    ("model", "Model"),
    ("type", "Type"),
    ("score", "Score"),
    ("chat", "Chat"),
    ("chat_hard", "Chat Hard"),
    ("safety", "Safety"),
    ("reasoning", "Reasoning"),
    ("prior_sets", "Prior Sets"),
    ("parameters", "Parameters"),
    ("source", "Source"),
)


def render_leaderboard(session: Session, query: LeaderboardQuery) -> bytes:
    page = leaderboard_page(session, query)
    show_prior = any(row.prior_sets is not None for row in page.rows)
    columns = [column for column in COLUMNS if show_prior or column[0] != "prior_sets"]
    pages = max(1, -(-page.total // query.per_page))
    csv_query = leaderboard_url(query, format="csv", page=1, per_page=1000).partition("?")[2]
    return render_html(
        "leaderboard.html",
        {
            "active_nav": "Leaderboard",
            "page": page,
            "query": query,
            "columns": columns,
            "sort_links": {key: sort_url(query, key) for key, _ in columns},
            "model_types": model_types(session),
            "rule": LEADERBOARD_RULE,
            "pages": pages,
            "prev_url": leaderboard_url(query, page=query.page - 1) if query.page > 1 else None,
            "next_url": leaderboard_url(query, page=query.page + 1) if query.page < pages else None,
            "csv_url": "/api/v1/leaderboard?" + csv_query,
        },
    )


@router.get("/", response_class=HTMLResponse)
async def leaderboard(
    cache: LeaderboardCacheDep,
    sessions: SessionFactoryDep,
    query: Annotated[LeaderboardQuery, Depends(query_model(LeaderboardQuery))],
) -> HTMLResponse:
    """The leaderboard."""
    # Async like the JSON leaderboard: a cache hit needs neither the database nor a worker thread.
    key = ("html", *query.cache_key())
    cached = cache.lookup(key)
    if cached is None:
        cached = await run_in_threadpool(
            cached_body, sessions, cache, key, partial(render_leaderboard, query=query)
        )
    return html_response(cached.body, etag=cached.etag)
