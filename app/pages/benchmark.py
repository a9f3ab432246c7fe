"""Section and subset pages: what each part measures, its size and weight, and the ranking on it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.pages.rendering import html_response, render_html
from app.services import benchmark_info

router = APIRouter()


@router.get("/sections", response_class=HTMLResponse)
def sections_index() -> HTMLResponse:
    """The four sections and their subsets."""
    body = render_html(
        "sections.html", {"active_nav": "Sections", "sections": benchmark_info.list_sections()}
    )
    return html_response(body)


@router.get("/sections/{section}", response_class=HTMLResponse)
def section_page(section: str, session: SessionDep) -> HTMLResponse:
    """The ranking on one section."""
    ranking = benchmark_info.section_ranking(session, section)
    body = render_html(
        "ranking.html",
        {
            "active_nav": "Sections",
            "title": ranking.section.name,
            "kind": "section",
            "section": ranking.section,
            "subsets": ranking.section.subsets,
            "rows": ranking.rows,
        },
    )
    return html_response(body)


@router.get("/subsets/{subset}", response_class=HTMLResponse)
def subset_page(subset: str, session: SessionDep) -> HTMLResponse:
    """The ranking on one subset."""
    ranking = benchmark_info.subset_ranking(session, subset)
    body = render_html(
        "ranking.html",
        {
            "active_nav": "Sections",
            "title": ranking.subset.name,
            "kind": "subset",
            "subset": ranking.subset,
            "subsets": [ranking.subset],
            "rows": ranking.rows,
        },
    )
    return html_response(body)
