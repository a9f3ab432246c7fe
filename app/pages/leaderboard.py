"""The leaderboard page: / with filters, search, sort and pages in the URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from app.api.deps import LeaderboardCacheDep, SessionDep
from app.pages.rendering import html_response, leaderboard_url, render_html, sort_url
from app.schemas.leaderboard import LEADERBOARD_RULE, LeaderboardQuery
from app.services.leaderboard import leaderboard_page, model_types

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


@router.get("/", response_class=HTMLResponse)
def leaderboard(
    session: SessionDep, cache: LeaderboardCacheDep, query: Annotated[LeaderboardQuery, Query()]
) -> HTMLResponse:
    """The leaderboard."""

    def build() -> bytes:
        page = leaderboard_page(session, query)
        show_prior = any(row.prior_sets is not None for row in page.rows)
        columns = [column for column in COLUMNS if show_prior or column[0] != "prior_sets"]
        pages = max(1, -(-page.total // query.per_page))
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
                "csv_url": "/api/v1/leaderboard?"
                + leaderboard_url(query, format="csv", page=1, per_page=1000).partition("?")[2],
            },
        )

    cached = cache.get_or_build(session, ("html", *query.cache_key()), build)
    return html_response(cached.body, etag=cached.etag)
