"""/compare: models side by side, section by section and subset by subset, then where they disagree."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.api.routes.compare import CompareQueryDep
from app.errors import DomainError
from app.pages.rendering import html_response, page_url, pager, render_html
from app.schemas.compare import CompareQuery
from app.services.presentation.compare import compare
from worker.engine.benchmarks import BENCHMARKS, get_benchmark

router = APIRouter()


def compare_url(query: CompareQuery, **changes: object) -> str:
    values: dict[str, object] = {
        "benchmark": query.benchmark,
        "models": ",".join(query.models),
        "subset": query.subset,
        "page": query.page if query.page > 1 else None,
    }
    values.update(changes)
    return page_url("/compare", values)


def best_value(values: Iterable[float | None]) -> float | None:
    """The highest of the values a row shows (None when there are none): the one marked best."""
    return max((value for value in values if value is not None), default=None)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(session: SessionDep, query: CompareQueryDep) -> HTMLResponse:
    """Compare 2 to 4 models; with fewer, the form and what to do."""
    definition = get_benchmark(query.benchmark)
    comparison = None
    error = None
    status = 200
    if query.models:
        try:
            comparison = compare(session, query)
        except DomainError as exc:
            error, status = exc.message, exc.status_code
    pages = 1
    if comparison is not None:
        pages = max(1, -(-comparison.disagreements.total // query.per_page))
    body = render_html(
        "compare.html",
        {
            "active_nav": "Leaderboard",
            "query": query,
            "benchmark": definition,
            "benchmarks": list(BENCHMARKS.values()),
            "comparison": comparison,
            "error": error,
            "pages": pages,
            "url": lambda **changes: compare_url(query, **changes),
            "best": best_value,
            "pager": pager(
                query.page, pages, lambda n: compare_url(query, page=n if n > 1 else None) + "#disagreements"
            ),
            "api_url": "/api/v1" + compare_url(query),
        },
    )
    return html_response(body, status_code=status)
