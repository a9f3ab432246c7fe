"""The model page: every result, the section and subset table, reproducibility, and the pair browser."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.pages.rendering import html_response, page_url, render_html
from app.services.model_detail import model_view
from worker.engine.benchmark import SUBSET_NAMES

router = APIRouter()
PER_PAGE = 20


@router.get("/models/{org}/{name}", response_class=HTMLResponse)
def model_page(
    org: str,
    name: str,
    session: SessionDep,
    result: Annotated[int | None, Query(description="show this result instead of the current one")] = None,
    subset: Annotated[str | None, Query(max_length=50)] = None,
    wrong_only: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """One model."""
    hub_id = f"{org}/{name}"
    subset = subset or None
    detail, shown, examples = model_view(
        session, hub_id, result_id=result, subset=subset, wrong_only=wrong_only, page=page, per_page=PER_PAGE
    )
    base = "/models/" + quote(hub_id)
    filters = {"result": result, "subset": subset, "wrong_only": "true" if wrong_only else None}
    pages = max(1, -(-examples.total // PER_PAGE)) if examples else 1
    body = render_html(
        "model.html",
        {
            "model": detail,
            "shown": shown,
            "examples": examples,
            "subset_names": SUBSET_NAMES,
            "filters": filters,
            "base": base,
            "pages": pages,
            "prev_url": page_url(base, {**filters, "page": page - 1}) + "#pairs" if page > 1 else None,
            "next_url": page_url(base, {**filters, "page": page + 1}) + "#pairs" if page < pages else None,
            "result_url": lambda result_id: page_url(base, {"result": result_id}),
        },
    )
    return html_response(body)
