"""Plot parameters (the same names in the page, SVG and JSON URLs) and the JSON form of a plot."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.db.models import ResultSource
from app.schemas.query import BenchmarkId, QueryModel
from worker.engine.benchmarks import DEFAULT_BENCHMARK


class PlotQuery(QueryModel):
    """What a plot shows: a benchmark board (with the leaderboard's filters) or one model's result."""

    benchmark: BenchmarkId = DEFAULT_BENCHMARK
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
    layout: Literal["wide", "narrow"] = Field(
        default="wide", description="the SVG drawn for a window (wide) or a phone's width (narrow)"
    )

    def cache_key(self) -> tuple[object, ...]:
        return (self.benchmark, self.model_type, self.q, self.source, self.x, self.y, self.model, self.result)


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
