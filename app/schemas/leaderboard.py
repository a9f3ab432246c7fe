"""Leaderboard query parameters and rows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from app.db.models import ResultSource
from app.schemas.query import BenchmarkId, QueryModel
from worker.engine.benchmarks import DEFAULT_BENCHMARK, get_benchmark

TEXT_SORT_KEYS = frozenset({"rank", "model", "type", "source"})
PLAIN_SORT_KEYS = ("rank", "model", "type", "score", "parameters", "source", "date")

LEADERBOARD_RULE = (
    "One row per model and model type: its most recent result evaluated here over the whole benchmark; "
    "if it has none, its most recent imported one. Runs over part of the data are listed apart, unranked."
)


def sort_keys(benchmark: str) -> tuple[str, ...]:
    """What a board of ``benchmark`` can be sorted by: the plain keys and the section slugs."""
    return (*PLAIN_SORT_KEYS, *(section.slug for section in get_benchmark(benchmark).sections))


class LeaderboardQuery(QueryModel):
    """Benchmark, filters, sort and page of a leaderboard view; the same names in the page URL and the API."""

    benchmark: BenchmarkId = DEFAULT_BENCHMARK
    sort: str = Field(
        default="score",
        max_length=50,
        description="column to sort by: rank, model, type, score, parameters, source, date or a section slug",
    )
    order: Literal["asc", "desc"] | None = Field(
        default=None, description="asc or desc; default desc for scores, asc for names and rank"
    )
    model_type: str | None = Field(default=None, max_length=50, description="only this model type (key)")
    q: str | None = Field(
        default=None, max_length=200, description="case-insensitive text search in the model id"
    )
    source: ResultSource | None = Field(default=None, description="only evaluated or only imported results")
    partial: bool = Field(
        default=False, description="list the runs over part of the data (never ranked) instead of the board"
    )
    hidden: bool = Field(
        default=False,
        description="list the results maintainers hid (unranked, each with its reason) instead of the board",
    )
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _known_sort(self) -> LeaderboardQuery:
        # Section slugs use dashes; the underscore spelling of older links (chat_hard) still works.
        keys = sort_keys(self.benchmark)
        dashed = self.sort.replace("_", "-")
        if dashed in keys:
            self.sort = dashed
        if self.sort not in keys:
            raise ValueError(f"sort must be one of {', '.join(keys)}")
        return self

    @property
    def direction(self) -> Literal["asc", "desc"]:
        if self.order is not None:
            return self.order
        return "asc" if self.sort in TEXT_SORT_KEYS else "desc"

    def cache_key(self) -> tuple[object, ...]:
        return (
            self.benchmark,
            self.sort,
            self.direction,
            self.model_type,
            self.q,
            self.source,
            self.partial,
            self.hidden,
            self.page,
            self.per_page,
        )


class LeaderboardApiQuery(LeaderboardQuery):
    format: Literal["json", "csv"] = Field(default="json", description="json, or csv for a download")


class LeaderboardRow(BaseModel):
    rank: int | None = Field(description="rank by Score among the benchmark's ranked results (ties share)")
    rank_ub: int | None = Field(
        description="rank upper bound: 1 + the ranked results whose whole 95% Score interval lies above "
        "this one's; results whose intervals overlap share it (without an interval, the Score stands for "
        "both ends)"
    )
    model: str = Field(description="Hub id (org/name), or an API model's name")
    display_name: str
    hub_repo: bool = Field(description="the model has a repository on the Hugging Face Hub")
    model_type: str = Field(description="kind key, e.g. classifier, dpo")
    model_type_label: str
    score: float | None = Field(description="today's Score of the benchmark, in [0, 1]")
    score_interval: list[float] | None = Field(
        description="95% bootstrap interval [low, high] of the Score; null without per-example scores"
    )
    sections: dict[str, float | None] = Field(description="section name -> value in [0, 1]")
    section_intervals: dict[str, list[float] | None] = Field(
        description="section name -> 95% bootstrap interval [low, high], null without one"
    )
    interval_note: str | None = Field(description="why the row has no interval, in words; null if it has one")
    complete: bool = Field(description="the result covers the whole benchmark (only those are ranked)")
    published_score: float | None = Field(description="the Score a published board printed, if imported so")
    published_formula: str | None = Field(
        description="the Score formula the published Score follows; null: none (flagged)"
    )
    parameters: int | None = Field(description="stored parameter count (the Hub's safetensors metadata)")
    parameters_from_name: int | None = Field(
        default=None, description="without a stored count: the total the model's name states"
    )
    active_parameters: int | None = Field(
        default=None, description="a mixture of experts' active parameters, where known"
    )
    parameters_source: Literal["hub", "name"] | None = Field(
        default=None, description="hub: stored at submission; name: read from the model's name; null: unknown"
    )
    parameters_text: str = Field(default="—", description="the count as the page shows it")
    source: ResultSource
    source_detail: str | None = Field(description="for imported results, the file they came from")
    revision: str | None
    scoring_version: str
    result_id: int
    created_at: datetime
    visibility: Literal["visible", "flagged", "hidden"] = Field(
        default="visible",
        description="flagged: listed with a maintainer's mark; hidden: off the board (see hidden=true)",
    )
    visibility_reason: str | None = Field(default=None, description="the maintainer's public reason")
    visibility_link: str | None = Field(default=None, description="a public discussion of it, if any")


class LeaderboardPage(BaseModel):
    benchmark: str
    rule: str = LEADERBOARD_RULE
    sections: list[str] = Field(description="the section columns of this benchmark, in order")
    score_sections: list[str] = Field(description="the sections today's Score is the mean of")
    partial: bool
    partial_runs: int = Field(description="current results over part of the data, listed with partial=true")
    hidden: bool = False
    hidden_results: int = Field(default=0, description="current results maintainers hid (hidden=true)")
    total: int = Field(description="rows matching the filters, over all pages")
    page: int
    per_page: int
    sort: str
    order: str
    interval_method: str = Field(description="how the intervals are computed")
    rank_rule: str = Field(description="what rank_ub means")
    rows: list[LeaderboardRow]
