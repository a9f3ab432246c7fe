"""/about: the method in plain words."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.pages.rendering import html_response, render_html
from app.schemas.leaderboard import LEADERBOARD_RULE
from app.services.benchmark_info import list_sections
from worker.engine.scoring import CURRENT_SCORING_VERSION, SCORING_VERSIONS

router = APIRouter()


@router.get("/about", response_class=HTMLResponse)
def about() -> HTMLResponse:
    """How the leaderboard is computed."""
    body = render_html(
        "about.html",
        {
            "active_nav": "About",
            "sections": list_sections(),
            "rule": LEADERBOARD_RULE,
            "scoring_versions": list(SCORING_VERSIONS.values()),
            "current_version": CURRENT_SCORING_VERSION,
        },
    )
    return html_response(body)
