"""A model's results, sections, subsets and scored examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.db.models import ResultSource


class SubsetScoreRead(BaseModel):
    subset: str
    section: str
    value: float
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
    model_type: str = Field(description="kind key")
    model_type_label: str
    chat_template: str
    config: dict[str, Any]
    benchmark: str
    benchmark_label: str
    benchmark_version: str = Field(description="the dataset revision, else its fingerprint")
    scoring_version: str
    score: float | None
    score_interval: list[float] | None = Field(
        default=None, description="95% bootstrap interval [low, high] of the Score; null without one"
    )
    sections: dict[str, float] = Field(description="section name -> value")
    section_intervals: dict[str, list[float] | None] = Field(
        default_factory=dict, description="section name -> 95% bootstrap interval [low, high]"
    )
    interval_note: str | None = Field(default=None, description="why there is no interval, in words")
    interval_version: str | None = Field(
        default=None, description="the scoring version and method the intervals were computed under"
    )
    complete: bool = Field(description="covers the whole benchmark; partial results are never ranked")
    published_score: float | None
    published_formula: str | None
    reproducibility: dict[str, Any]
    created_at: datetime
    has_examples: bool = Field(description="per-example scores are stored for this result")
    subsets: list[SubsetScoreRead]
    rank: int | None = Field(default=None, description="its rank by Score on its board (current results)")
    rank_ub: int | None = Field(
        default=None, description="its rank upper bound: results whose intervals overlap share it"
    )
    ranked_of: int | None = Field(default=None, description="how many results its board ranks")
    visibility: Literal["visible", "flagged", "hidden"] = Field(
        default="visible", description="hidden: off the board by a maintainer's decision; flagged: marked"
    )
    visibility_reason: str | None = Field(default=None, description="the maintainer's public reason")
    visibility_link: str | None = Field(default=None, description="a public discussion of it, if any")
    visibility_changed_at: datetime | None = None
    superseded_by_id: int | None = Field(default=None, description="the result that replaced it, if any")


class ModelRead(BaseModel):
    model: str = Field(description="Hub id (org/name), or an API model's name")
    display_name: str
    hub_repo: bool
    parameters: int | None = Field(description="stored parameter count (the Hub's safetensors metadata)")
    parameters_from_name: int | None = Field(
        default=None, description="without a stored count: the total the model's name states"
    )
    active_parameters: int | None = Field(default=None, description="a mixture's active parameters")
    parameters_source: Literal["hub", "name"] | None = Field(
        default=None, description="hub: stored at submission; name: read from the model's name"
    )
    parameters_text: str = Field(default="—", description="the count as the page shows it")
    license: str | None
    base_model: str | None
    series: str | None = Field(
        default=None, description="the first model of the series this one belongs to (iterations), if any"
    )
    current_result_ids: list[int] = Field(description="the results the leaderboards show")
    results: list[ResultRead] = Field(description="every result, newest first")


class ExampleRead(BaseModel):
    subset: str
    example_id: str
    scores: list[float | None] = Field(description="one score per candidate, candidates in order")
    num_correct: int = Field(description="the first num_correct candidates are the correct ones")
    outcome: float | None = Field(
        description="credit in [0, 1]: 1 right, 0 wrong (a tie is wrong for classifiers), a fraction for "
        "shared ties; null where the subset is scored as a whole"
    )
    correct: bool
    top_tie: bool = Field(description="the first correct candidate shares the top score with another")
    detail: dict[str, Any] | None
    prompt: str | None = Field(description="benchmark text, when stored")
    conversation: list[list[str]] | None
    candidates: list[str] | None


class ExamplesPage(BaseModel):
    model: str
    result_id: int
    benchmark: str
    candidate_labels: list[str] = Field(
        description="names of the candidates, where every example has the same"
    )
    total: int
    page: int
    per_page: int
    items: list[ExampleRead]
