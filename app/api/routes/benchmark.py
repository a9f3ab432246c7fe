"""GET /api/v1/sections and /api/v1/subsets: what RewardBench v1 is made of, and rankings on its parts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import SessionDep
from app.schemas.benchmark import SectionRanking, SectionRead, SubsetRanking, SubsetRead
from app.services import benchmark_info

router = APIRouter(tags=["benchmark"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown section or subset"}}


@router.get("/sections", response_model=list[SectionRead])
def list_sections() -> list[SectionRead]:
    """The four sections with their subsets, sizes and weights."""
    return benchmark_info.list_sections()


@router.get("/sections/{section}", response_model=SectionRanking, responses=NOT_FOUND)
def get_section(section: str, session: SessionDep) -> SectionRanking:
    """Current results ranked on one section (slug such as chat-hard)."""
    return benchmark_info.section_ranking(session, section)


@router.get("/subsets", response_model=list[SubsetRead])
def list_subsets() -> list[SubsetRead]:
    """The 23 subsets with their section, size and weight."""
    return benchmark_info.list_subsets()


@router.get("/subsets/{subset}", response_model=SubsetRanking, responses=NOT_FOUND)
def get_subset(subset: str, session: SessionDep) -> SubsetRanking:
    """Current results ranked on one subset's accuracy."""
    return benchmark_info.subset_ranking(session, subset)
