"""Benchmarks, their sections and subsets, and rankings on one part of a benchmark."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.db.models import ResultSource


class SubsetRead(BaseModel):
    name: str
    benchmark: str
    section: str
    section_slug: str
    rows: int = Field(description="examples in the benchmark")
    weight: float = Field(description="weight of the subset inside its section (current scoring version)")
    description: str
    part: str = Field(description="the data part it comes from; optional parts are off by default")


class SectionRead(BaseModel):
    slug: str
    name: str
    benchmark: str
    description: str
    weight_in_score: float = Field(description="share of the section in today's Score (0: not in Score)")
    rows: int
    subsets: list[SubsetRead]


class ScoreFormulaRead(BaseModel):
    key: str
    description: str


class ScoringVersionRead(BaseModel):
    name: str
    description: str
    score_formula: str
    current: bool


class DataPartRead(BaseModel):
    name: str
    dataset_id: str
    revision: str | None
    split: str | None
    splits: list[str]
    optional: bool
    description: str


class BenchmarkRead(BaseModel):
    id: str
    label: str
    description: str
    url: str
    data: list[DataPartRead]
    truncation_side: str = Field(description="which end a classifier's input is cut at max_length")
    candidates_per_example: str
    sections: list[SectionRead]
    score_formulas: list[ScoreFormulaRead]
    scoring_versions: list[ScoringVersionRead]
    current_scoring_version: str


class RankedEntry(BaseModel):
    rank: int
    model: str
    display_name: str
    hub_repo: bool
    model_type: str
    model_type_label: str
    value: float = Field(description="the section or subset value, in [0, 1] (Ties can exceed 1)")
    value_interval: list[float] | None = Field(
        default=None, description="95% bootstrap interval [low, high] of a section's value; null for subsets"
    )
    score: float | None
    score_interval: list[float] | None = Field(
        default=None, description="95% bootstrap interval [low, high] of the Score; null without one"
    )
    interval_note: str | None = Field(default=None, description="why there is no interval, in words")
    source: ResultSource
    source_detail: str | None
    result_id: int


class SectionRanking(BaseModel):
    section: SectionRead
    rows: list[RankedEntry]


class SubsetRanking(BaseModel):
    subset: SubsetRead
    rows: list[RankedEntry]
