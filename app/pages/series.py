"""The series page: the iterations of one chain side by side, per benchmark and model type."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.pages.rendering import html_response, render_html
from app.schemas.series import SeriesTrack
from app.services.presentation.plots import Plot, score_by_iteration
from app.services.presentation.series import series_view

router = APIRouter()


@router.get("/series/{org}/{name}", response_class=HTMLResponse)
def series_page(org: str, name: str, session: SessionDep) -> HTMLResponse:
    """A model's series."""
    series = series_view(session, f"{org}/{name}")
    plots = [track_plot(series.root, track, index) for index, track in enumerate(series.tracks)]
    context = {"series": series, "plots": plots, "active_nav": "Leaderboard"}
    return html_response(render_html("series.html", context))


def track_plot(root: str, track: SeriesTrack, index: int) -> Plot:
    """One track's Score by iteration, drawn by the plots package from the series' numbers."""
    rows = [
        (
            f"{point.iteration}: {point.model.split('/')[-1]}",
            point.score,
            (point.score_low, point.score_high)
            if point.score_low is not None and point.score_high is not None
            else None,
        )
        for point in track.points
    ]
    name = f"{root} · {track.benchmark_label} · {track.model_type_label}"
    return score_by_iteration(name, rows, ident=f"plot-score-by-iteration-{index}")
