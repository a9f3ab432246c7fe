"""Leaderboard query parameters and rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.db.models import ResultSource

SortKey = Literal[
    "rank",
    "model",
    "type",
    "score",
    "chat",
    "chat_hard",
    "safety",
    "reasoning",
    "prior_sets",
    "parameters",
    "source",
    "date",
]
SORT_KEYS: tuple[str, ...] = SortKey.__args__  # type: ignore[attr-defined]
TEXT_SORT_KEYS = frozenset({"rank", "model", "type", "source"})

LEADERBOARD_RULE = (
    "One row per model: its most recent result evaluated here; "
    "if it has none, its most recent imported result."
)


class LeaderboardQuery(BaseModel):
    """Filters, sort and page of a leaderboard view; the same names in the page URL and the API."""

    model_config = ConfigDict(extra="ignore")

    sort: SortKey = Field(default="score", description="column to sort by")
    order: Literal["asc", "desc"] | None = Field(
        default=None, description="asc or desc; default desc for scores, asc for names and rank"
    )
    model_type: str | None = Field(default=None, max_length=50, description="only this model type")
    q: str | None = Field(
        default=None, max_length=200, description="case-insensitive text search in the model id"
    )
    source: ResultSource | None = Field(default=None, description="only evaluated or only imported results")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An empty form field (``?q=&source=``, as a GET form sends it) means "not set"."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data

    @property
    def direction(self) -> Literal["asc", "desc"]:
        if self.order is not None:
            return self.order
        return "asc" if self.sort in TEXT_SORT_KEYS else "desc"

    def cache_key(self) -> tuple[object, ...]:
        return (self.sort, self.direction, self.model_type, self.q, self.source, self.page, self.per_page)


class LeaderboardApiQuery(LeaderboardQuery):
    format: Literal["json", "csv"] = Field(default="json", description="json, or csv for a download")


class LeaderboardRow(BaseModel):
    rank: int | None = Field(description="rank by Score among all current results (ties share a rank)")
    model: str = Field(description="Hub id, org/name")
    display_name: str
    model_type: str
    score: float | None = Field(description="mean of the four sections, in [0, 1]")
    chat: float | None
    chat_hard: float | None
    safety: float | None
    reasoning: float | None
    prior_sets: float | None = Field(description="upstream Prior Sets when the result has them; not in Score")
    parameters: int | None
    source: ResultSource
    source_detail: str | None = Field(description="for imported results, the file they came from")
    revision: str | None
    scoring_version: str
    result_id: int
    created_at: datetime


class LeaderboardPage(BaseModel):
    rule: str = LEADERBOARD_RULE
    total: int = Field(description="rows matching the filters, over all pages")
    page: int
    per_page: int
    sort: str
    order: str
    rows: list[LeaderboardRow]
