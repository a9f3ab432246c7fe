"""A model's results, subsets and scored pairs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.db.models import ResultSource


class SubsetScoreRead(BaseModel):
    subset: str
    section: str
    accuracy: float
    n: int | None
    correct: float | None


class ResultRead(BaseModel):
    id: int
    is_current: bool
    source: ResultSource
    source_detail: str | None
    submission_id: int | None
    revision: str | None
    commit: str | None
    model_type: str
    chat_template: str
    config: dict[str, Any]
    benchmark: str
    scoring_version: str
    score: float | None
    chat: float | None
    chat_hard: float | None
    safety: float | None
    reasoning: float | None
    prior_sets: float | None
    reproducibility: dict[str, Any]
    created_at: datetime
    has_pairs: bool = Field(description="per-pair scores are stored for this result")
    subsets: list[SubsetScoreRead]


class ModelRead(BaseModel):
    model: str = Field(description="Hub id, org/name")
    display_name: str
    model_type: str
    parameters: int | None
    license: str | None
    base_model: str | None
    current_result_id: int | None
    results: list[ResultRead] = Field(description="every result, newest first")


class PairRead(BaseModel):
    subset: str
    example_id: int
    score_chosen: float | None
    score_rejected: float | None
    result: float = Field(description="1 right, 0 wrong (a tie is wrong), 0.5 a judge's non-answer")
    correct: bool
    prompt: str | None = Field(description="benchmark text, when stored")
    chosen: str | None
    rejected: str | None


class ExamplesPage(BaseModel):
    model: str
    result_id: int
    total: int
    page: int
    per_page: int
    items: list[PairRead]
