"""Section and subset pages per benchmark: what each part measures, its size and weight, and the ranking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.errors import NotFoundError
from app.pages.rendering import html_response, page_url, pager, render_html
from app.schemas.benchmark import RankedEntry
from app.services.presentation import benchmark_info
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK

router = APIRouter()
BenchmarkParam = Annotated[str, Query(max_length=50)]
PageParam = Annotated[int, Query(ge=1, le=10_000)]
PER_PAGE = 100


@router.get("/sections", response_class=HTMLResponse)
def sections_index(benchmark: BenchmarkParam = DEFAULT_BENCHMARK) -> HTMLResponse:
    """A benchmark's sections and their subsets."""
    definition = benchmark_info.get_benchmark_read(benchmark)
    body = render_html(
        "sections.html",
        {
            "active_nav": "Sections",
            "benchmark": definition,
            "tabs": [
                (b.label, f"/sections?benchmark={b.id}", b.id == definition.id) for b in BENCHMARKS.values()
            ],
        },
    )
    return html_response(body)


def _page_of(rows: Sequence[RankedEntry], page: int, base: str, benchmark: str) -> dict[str, object]:
    """One page of a ranking (``PER_PAGE`` rows) and its pager."""
    pages = max(1, -(-len(rows) // PER_PAGE))
    if page > pages:
        raise NotFoundError(f"page {page} of a ranking with {pages} page{'s' if pages > 1 else ''}")
    params = {"benchmark": benchmark if benchmark != DEFAULT_BENCHMARK else None}
    return {
        "rows": rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        "ranked": len(rows),
        "pager": pager(page, pages, lambda n: page_url(base, {**params, "page": n if n > 1 else None})),
    }


@router.get("/sections/{section}", response_class=HTMLResponse)
def section_page(
    section: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK, page: PageParam = 1
) -> HTMLResponse:
    """The ranking on one section."""
    ranking = benchmark_info.section_ranking(session, benchmark, section)
    body = render_html(
        "ranking.html",
        {
            "active_nav": "Sections",
            "benchmark": benchmark_info.get_benchmark_read(benchmark),
            "title": ranking.section.name,
            "kind": "section",
            "section": ranking.section,
            "subsets": ranking.section.subsets,
            **_page_of(ranking.rows, page, f"/sections/{section}", benchmark),
        },
    )
    return html_response(body)


@router.get("/subsets/{subset}", response_class=HTMLResponse)
def subset_page(
    subset: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK, page: PageParam = 1
) -> HTMLResponse:
    """The ranking on one subset."""
    ranking = benchmark_info.subset_ranking(session, benchmark, subset)
    body = render_html(
        "ranking.html",
        {
            "active_nav": "Sections",
            "benchmark": benchmark_info.get_benchmark_read(benchmark),
            "title": ranking.subset.name,
            "kind": "subset",
            "subset": ranking.subset,
            "subsets": [ranking.subset],
            **_page_of(ranking.rows, page, f"/subsets/{subset}", benchmark),
        },
    )
    return html_response(body)
