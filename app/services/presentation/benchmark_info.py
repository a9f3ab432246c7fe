"""What each benchmark is made of (data, sections, subsets, weights, scoring versions); rankings on a part."""

from __future__ import annotations

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.repositories import leaderboard as repo
from app.errors import NotFoundError
from app.schemas.benchmark import (
    BenchmarkRead,
    DataPartRead,
    RankedEntry,
    ScoreFormulaRead,
    ScoringVersionRead,
    SectionRanking,
    SectionRead,
    SubsetRanking,
    SubsetRead,
)
from app.services.results.intervals import bounds, interval_note
from worker.engine.benchmarks import BENCHMARKS, UnknownBenchmarkError, get_benchmark
from worker.engine.benchmarks.base import Benchmark, Section, Subset
from worker.engine.kinds import KINDS


def definition(benchmark_id: str) -> Benchmark:
    try:
        return get_benchmark(benchmark_id)
    except UnknownBenchmarkError as error:
        raise NotFoundError(error.message) from None


def _subset_read(benchmark: Benchmark, subset: Subset) -> SubsetRead:
    section = benchmark.section(subset.section)
    return SubsetRead(
        name=subset.name,
        benchmark=benchmark.id,
        section=subset.section,
        section_slug=section.slug if section else "",
        rows=subset.rows,
        weight=subset.weight,
        description=subset.description,
        part=subset.part,
    )


def _section_read(benchmark: Benchmark, section: Section) -> SectionRead:
    subsets = [_subset_read(benchmark, subset) for subset in benchmark.subsets_of(section.name)]
    formula = benchmark.scoring_version().score_formula
    weights = {name: weight for name, weight in formula.section_weights.items() if weight > 0}
    total = sum(weights.values())
    return SectionRead(
        slug=section.slug,
        name=section.name,
        benchmark=benchmark.id,
        description=section.description,
        weight_in_score=weights.get(section.name, 0.0) / total if total else 0.0,
        rows=sum(subset.rows for subset in subsets),
        subsets=subsets,
    )


def benchmark_read(benchmark: Benchmark) -> BenchmarkRead:
    formulas = {
        version.score_formula.key: version.score_formula for version in benchmark.scoring_versions.values()
    }
    return BenchmarkRead(
        id=benchmark.id,
        label=benchmark.label,
        description=benchmark.description,
        url=benchmark.url,
        data=[
            DataPartRead(
                name=part.name,
                dataset_id=part.dataset_id,
                revision=part.revision,
                split=part.split,
                splits=list(part.splits),
                optional=part.optional,
                description=part.description,
            )
            for part in benchmark.parts
        ],
        truncation_side=benchmark.truncation_side,
        candidates_per_example=" and ".join(benchmark.candidate_labels) or "several, the correct ones first",
        sections=[_section_read(benchmark, section) for section in benchmark.sections],
        score_formulas=[ScoreFormulaRead(key=key, description=f.description) for key, f in formulas.items()],
        scoring_versions=[
            ScoringVersionRead(
                name=version.name,
                description=version.description,
                score_formula=version.score_formula.key,
                current=version.name == benchmark.current_scoring_version,
            )
            for version in benchmark.scoring_versions.values()
        ],
        current_scoring_version=benchmark.current_scoring_version,
    )


def list_benchmarks() -> list[BenchmarkRead]:
    return [benchmark_read(benchmark) for benchmark in BENCHMARKS.values()]


def get_benchmark_read(benchmark_id: str) -> BenchmarkRead:
    return benchmark_read(definition(benchmark_id))


def list_sections(benchmark_id: str) -> list[SectionRead]:
    benchmark = definition(benchmark_id)
    return [_section_read(benchmark, section) for section in benchmark.sections]


def list_subsets(benchmark_id: str) -> list[SubsetRead]:
    benchmark = definition(benchmark_id)
    return [_subset_read(benchmark, subset) for subset in benchmark.subsets]


def get_subset(benchmark_id: str, name: str) -> SubsetRead:
    benchmark = definition(benchmark_id)
    subset = benchmark.subset(name)
    if subset is None:
        raise NotFoundError(
            f"unknown subset {name!r} of {benchmark.label}; see /api/v1/subsets?benchmark={benchmark.id}"
        )
    return _subset_read(benchmark, subset)


def get_section(benchmark_id: str, slug: str) -> SectionRead:
    benchmark = definition(benchmark_id)
    section = benchmark.section_by_slug(slug.replace("_", "-"))
    if section is None:
        known = ", ".join(section.slug for section in benchmark.sections)
        raise NotFoundError(f"unknown section {slug!r} of {benchmark.label}; known: {known}")
    return _section_read(benchmark, section)


def _entry(row: RowMapping) -> RankedEntry:
    kind = KINDS.get(row["model_type"])
    return RankedEntry.model_validate(
        {
            **row,
            "model_type_label": kind.label if kind else row["model_type"],
            "value_interval": bounds(row.get("low"), row.get("high")),
            "score_interval": bounds(row["score_low"], row["score_high"]),
            "interval_note": interval_note(row["interval_status"], row["source"]),
        }
    )


def section_ranking(session: Session, benchmark_id: str, slug: str) -> SectionRanking:
    """Ranked current results on one section."""
    section = get_section(benchmark_id, slug)
    rows = repo.section_ranking(session, benchmark=section.benchmark, section=section.name)
    return SectionRanking(section=section, rows=[_entry(row) for row in rows])


def subset_ranking(session: Session, benchmark_id: str, name: str) -> SubsetRanking:
    """Ranked current results on one subset's value."""
    subset = get_subset(benchmark_id, name)
    rows = repo.subset_ranking(session, benchmark=subset.benchmark, subset=subset.name)
    return SubsetRanking(subset=subset, rows=[_entry(row) for row in rows])
