"""/about: the method in plain words, per benchmark."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.pages.rendering import html_response, render_html
from app.schemas.leaderboard import LEADERBOARD_RULE
from app.services.presentation.benchmark_info import list_benchmarks
from app.services.results.intervals import INTERVAL_METHOD_TEXT, RANK_TEXT

router = APIRouter()


@router.get("/about", response_class=HTMLResponse)
def about() -> HTMLResponse:
    """How the leaderboards are computed."""
    body = render_html(
        "about.html",
        {
            "active_nav": "About",
            "benchmarks": list_benchmarks(),
            "rule": LEADERBOARD_RULE,
            "interval_method": INTERVAL_METHOD_TEXT,
            "rank_rule": RANK_TEXT,
        },
    )
    return html_response(body)
