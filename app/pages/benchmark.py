"""Section and subset pages per benchmark: what each part measures, its size and weight, and the ranking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.pages.rendering import html_response, render_html
from app.services import benchmark_info
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK

router = APIRouter()
BenchmarkParam = Annotated[str, Query(max_length=50)]


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


@router.get("/sections/{section}", response_class=HTMLResponse)
def section_page(
    section: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK
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
            "rows": ranking.rows,
        },
    )
    return html_response(body)


@router.get("/subsets/{subset}", response_class=HTMLResponse)
def subset_page(
    subset: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK
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
            "rows": ranking.rows,
        },
    )
    return html_response(body)
