"""Plot parameters (the same names in the page, SVG and JSON URLs) and the JSON form of a plot."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.db.models import ResultSource
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK


class PlotQuery(BaseModel):
    """What a plot shows: a benchmark board (with the leaderboard's filters) or one model's result."""

    model_config = ConfigDict(extra="ignore")

    benchmark: str = Field(default=DEFAULT_BENCHMARK, max_length=50, description="benchmark id")
    model_type: str | None = Field(default=None, max_length=50, description="only this model type (key)")
    q: str | None = Field(default=None, max_length=200, description="only models whose id contains this")
    source: ResultSource | None = Field(default=None, description="only evaluated or only imported results")
    x: str | None = Field(default=None, max_length=50, description="versus plot: section or subset across")
    y: str | None = Field(default=None, max_length=50, description="versus plot: section or subset up")
    model: str | None = Field(default=None, max_length=200, description="model plots: the model (org/name)")
    result: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="model plots: a result id (default: the current one)"
    )
    theme: Literal["light", "dark"] = Field(default="light", description="the SVG's colours")

    def cache_key(self) -> tuple[object, ...]:
        return (self.benchmark, self.model_type, self.q, self.source, self.x, self.y, self.model, self.result)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data

    @field_validator("benchmark")
    @classmethod
    def _known_benchmark(cls, value: str) -> str:
        if value not in BENCHMARKS:
            raise ValueError(f"unknown benchmark; known: {', '.join(BENCHMARKS)}")
        return value


class PlotCell(BaseModel):
    text: str
    href: str | None = None
    numeric: bool = False


class PlotRead(BaseModel):
    name: str
    title: str
    description: str
    page_url: str = Field(description="the plot with its table")
    svg_url: str = Field(description="the plot as image/svg+xml")
    columns: list[str] = Field(description="the text equivalent: a table of what is drawn")
    rows: list[list[PlotCell]]
    notes: list[str]
    data: dict[str, Any] = Field(description="the plotted numbers, full precision")
