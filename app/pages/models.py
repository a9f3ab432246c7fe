"""The model page: every result per benchmark, sections and subsets, reproducibility, example browser."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api.deps import SessionDep
from app.pages.rendering import html_response, page_url, pager, render_html
from app.schemas.models import ModelRead, ResultRead
from app.services.presentation.model_detail import model_view
from app.services.presentation.plots import (
    Plot,
    result_margins_plot,
    result_sections_plot,
    result_subset_strip,
)
from app.services.presentation.reproducibility import record_rows
from worker.engine.benchmarks import BENCHMARKS

router = APIRouter()
PER_PAGE = 20

ResultParam = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="show this result")]
SubsetParam = Annotated[str | None, Query(max_length=50)]
PageParam = Annotated[int, Query(ge=1, le=100_000)]


@router.get("/models/{org}/{name}", response_class=HTMLResponse)
def model_page(
    org: str,
    name: str,
    session: SessionDep,
    result: ResultParam = None,
    subset: SubsetParam = None,
    wrong_only: bool = False,
    page: PageParam = 1,
) -> HTMLResponse:
    """One model."""
    return _render(session, f"{org}/{name}", result, subset or None, wrong_only, page)


@router.get("/models/{name}", response_class=HTMLResponse)
def named_model_page(
    name: str,
    session: SessionDep,
    result: ResultParam = None,
    subset: SubsetParam = None,
    wrong_only: bool = False,
    page: PageParam = 1,
) -> HTMLResponse:
    """A model known by a name without a namespace (an API model of a published board)."""
    return _render(session, name, result, subset or None, wrong_only, page)


def _render(
    session: SessionDep, hub_id: str, result: int | None, subset: str | None, wrong_only: bool, page: int
) -> HTMLResponse:
    detail, shown, examples = model_view(
        session, hub_id, result_id=result, subset=subset, wrong_only=wrong_only, page=page, per_page=PER_PAGE
    )
    base = "/models/" + quote(hub_id, safe="/")
    filters = {"result": result, "subset": subset, "wrong_only": "true" if wrong_only else None}
    pages = max(1, -(-examples.total // PER_PAGE)) if examples else 1
    definition = BENCHMARKS.get(shown.benchmark) if shown else None
    featured = _featured(detail, shown)
    body = render_html(
        "model.html",
        {
            "model": detail,
            "shown": shown,
            "definition": definition,
            "examples": examples,
            "subset_names": definition.subset_names if definition else (),
            "filters": filters,
            "base": base,
            "pages": pages,
            "pager": pager(page, pages, lambda n: page_url(base, {**filters, "page": n}) + "#examples"),
            "result_url": lambda result_id: page_url(base, {"result": result_id}),
            "featured": featured,
            "definitions": {result.id: BENCHMARKS.get(result.benchmark) for result in featured},
            "plots": {result.id: _result_plots(session, detail, result) for result in featured},
            "records": {result.id: record_rows(result) for result in featured},
            "compare_url": lambda benchmark: _compare_url(detail.model, benchmark),
        },
    )
    return html_response(body)


def _featured(detail: ModelRead, shown: ResultRead | None) -> list[ResultRead]:
    """The results shown in full: the one asked for, then every current one (one per benchmark and type)."""
    current = [result for result in detail.results if result.id in detail.current_result_ids]
    order = list(BENCHMARKS)
    current.sort(key=lambda r: (order.index(r.benchmark) if r.benchmark in order else 99, r.model_type))
    if shown is None:
        return current
    return [shown, *(result for result in current if result.id != shown.id)]


def _result_plots(session: Session, detail: ModelRead, result: ResultRead) -> list[Plot]:
    plots = [result_sections_plot(detail.model, detail.display_name, result)]
    if result.subsets:
        plots.append(result_subset_strip(session, detail.model, detail.display_name, result))
    if result.has_examples:
        plots.append(result_margins_plot(session, detail.model, detail.display_name, result))
    return plots


def _compare_url(model: str, benchmark: str) -> str:
    return page_url("/compare", {"benchmark": benchmark, "models": model})
