"""Sections, subsets and per-subset rankings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.db.models import ResultSource


class SubsetRead(BaseModel):
    name: str
    section: str
    section_slug: str
    rows: int = Field(description="pairs in the benchmark")
    weight: int = Field(description="weight of the subset inside its section (current scoring version)")
    description: str


class SectionRead(BaseModel):
    slug: str
    name: str
    description: str
    weight_in_score: float = Field(description="share of the section in Score")
    rows: int
    subsets: list[SubsetRead]


class RankedEntry(BaseModel):
    rank: int
    model: str
    display_name: str
    model_type: str
    value: float = Field(description="the section score or subset accuracy, in [0, 1]")
    score: float | None
    source: ResultSource
    source_detail: str | None
    result_id: int


class SectionRanking(BaseModel):
    section: SectionRead
    rows: list[RankedEntry]


class SubsetRanking(BaseModel):
    subset: SubsetRead
    rows: list[RankedEntry]
