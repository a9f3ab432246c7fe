"""The series page: the iterations of one chain side by side, per benchmark and model type."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.pages.rendering import html_response, render_html
from app.services.series import series_view

router = APIRouter()


@router.get("/series/{org}/{name}", response_class=HTMLResponse)
def series_page(org: str, name: str, session: SessionDep) -> HTMLResponse:
    """A model's series."""
    series = series_view(session, f"{org}/{name}")
    return html_response(render_html("series.html", {"series": series, "active_nav": "Leaderboard"}))
