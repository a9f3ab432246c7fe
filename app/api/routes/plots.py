"""GET /api/v1/plots/{name}: the numbers behind a plot, its table and the URLs of its page and SVG."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.api.deps import SessionDep, query_model, query_openapi
from app.schemas.plots import PlotQuery, PlotRead
from app.services.presentation.plots import build_plot

router = APIRouter(tags=["plots"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown plot, model, result or part"}}


@router.get(
    "/plots/{name}", response_model=PlotRead, responses=NOT_FOUND, openapi_extra=query_openapi(PlotQuery)
)
def get_plot(
    name: str, session: SessionDep, query: Annotated[PlotQuery, Depends(query_model(PlotQuery))]
) -> PlotRead:
    """A plot's numbers (full precision), its table and the URLs of its page and SVG.

    Board plots take the leaderboard's filters: ``score-vs-parameters``, ``versus`` (``x``, ``y``: a section
    or subset each; default the refusal picture). Model plots take ``model`` and ``result``: ``sections``,
    ``subset-strip``, ``margins``.
    """
    return build_plot(session, name, query).read()
