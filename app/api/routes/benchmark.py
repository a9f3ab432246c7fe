"""GET /api/v1/benchmarks, /sections and /subsets: what each benchmark is made of, rankings on parts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.deps import SessionDep
from app.schemas.benchmark import BenchmarkRead, SectionRanking, SectionRead, SubsetRanking, SubsetRead
from app.services.presentation import benchmark_info
from worker.engine.benchmarks import DEFAULT_BENCHMARK

router = APIRouter(tags=["benchmark"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown benchmark, section or subset"}}
BenchmarkParam = Annotated[str, Query(max_length=50, description="benchmark id (see /api/v1/benchmarks)")]


@router.get("/benchmarks", response_model=list[BenchmarkRead])
def list_benchmarks() -> list[BenchmarkRead]:
    """Every benchmark: data and pinned revision, sections, subsets, weights and scoring versions."""
    return benchmark_info.list_benchmarks()


@router.get("/benchmarks/{benchmark}", response_model=BenchmarkRead, responses=NOT_FOUND)
def get_benchmark(benchmark: str) -> BenchmarkRead:
    """One benchmark's definition."""
    return benchmark_info.get_benchmark_read(benchmark)


@router.get("/sections", response_model=list[SectionRead], responses=NOT_FOUND)
def list_sections(benchmark: BenchmarkParam = DEFAULT_BENCHMARK) -> list[SectionRead]:
    """A benchmark's sections with their subsets, sizes and weights."""
    return benchmark_info.list_sections(benchmark)


@router.get("/sections/{section}", response_model=SectionRanking, responses=NOT_FOUND)
def get_section(
    section: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK
) -> SectionRanking:
    """Current results ranked on one section (slug such as chat-hard)."""
    return benchmark_info.section_ranking(session, benchmark, section)


@router.get("/subsets", response_model=list[SubsetRead], responses=NOT_FOUND)
def list_subsets(benchmark: BenchmarkParam = DEFAULT_BENCHMARK) -> list[SubsetRead]:
    """A benchmark's subsets with their section, size and weight."""
    return benchmark_info.list_subsets(benchmark)


@router.get("/subsets/{subset}", response_model=SubsetRanking, responses=NOT_FOUND)
def get_subset(
    subset: str, session: SessionDep, benchmark: BenchmarkParam = DEFAULT_BENCHMARK
) -> SubsetRanking:
    """Current results ranked on one subset's value."""
    return benchmark_info.subset_ranking(session, benchmark, subset)
