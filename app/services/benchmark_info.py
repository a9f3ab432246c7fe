"""What the benchmark is made of (sections, subsets, weights) and the rankings on one part of it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.repositories import leaderboard as repo
from app.errors import NotFoundError
from app.schemas.benchmark import RankedEntry, SectionRanking, SectionRead, SubsetRanking, SubsetRead
from worker.engine.benchmark import SECTION_DESCRIPTIONS, SECTIONS, SUBSETS, Subset, subsets_of


def section_slug(section: str) -> str:
    return section.lower().replace(" ", "-")


SECTION_BY_SLUG: dict[str, str] = {section_slug(section): section for section in SECTIONS}


def _subset_read(subset: Subset) -> SubsetRead:
    return SubsetRead(
        name=subset.name,
        section=subset.section,
        section_slug=section_slug(subset.section),
        rows=subset.rows,
        weight=subset.weight,
        description=subset.description,
    )


def _section_read(section: str) -> SectionRead:
    subsets = [_subset_read(subset) for subset in subsets_of(section)]
    return SectionRead(
        slug=section_slug(section),
        name=section,
        description=SECTION_DESCRIPTIONS[section],
        weight_in_score=1 / len(SECTIONS),
        rows=sum(subset.rows for subset in subsets),
        subsets=subsets,
    )


def list_sections() -> list[SectionRead]:
    return [_section_read(section) for section in SECTIONS]


def list_subsets() -> list[SubsetRead]:
    return [_subset_read(subset) for subset in SUBSETS.values()]


def get_subset(name: str) -> SubsetRead:
    subset = SUBSETS.get(name)
    if subset is None:
        raise NotFoundError(f"unknown subset {name!r}; see /api/v1/subsets for the list")
    return _subset_read(subset)


def get_section(slug: str) -> SectionRead:
    section = SECTION_BY_SLUG.get(slug)
    if section is None:
        known = ", ".join(SECTION_BY_SLUG)
        raise NotFoundError(f"unknown section {slug!r}; known: {known}")
    return _section_read(section)


def section_ranking(session: Session, slug: str) -> SectionRanking:
    """Current results ranked on one section."""
    section = get_section(slug)
    rows = repo.section_ranking(session, section.name)
    return SectionRanking(section=section, rows=[RankedEntry.model_validate(dict(row)) for row in rows])


def subset_ranking(session: Session, name: str) -> SubsetRanking:
    """Current results ranked on one subset's accuracy."""
    subset = get_subset(name)
    rows = repo.subset_ranking(session, subset.name)
    return SubsetRanking(subset=subset, rows=[RankedEntry.model_validate(dict(row)) for row in rows])
