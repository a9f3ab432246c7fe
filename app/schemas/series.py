"""A model series: the iterations of one chain and how each benchmark's results move along it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SeriesMember(BaseModel):
    model: str = Field(description="Hub id")
    display_name: str
    iteration: int = Field(description="steps from the first model of the chain (0 for it)")
    iteration_of: str | None = Field(description="the model this one was trained from")


class SeriesPoint(BaseModel):
    model: str
    iteration: int
    result_id: int
    score: float | None
    score_low: float | None = Field(default=None, description="95% bootstrap interval, when stored")
    score_high: float | None = None
    complete: bool = Field(description="covers the whole benchmark (partial results are never ranked)")
    score_change: float | None = Field(description="Score minus its predecessor's on the same track")
    sections: dict[str, float]
    subsets: dict[str, float]


class SeriesTrack(BaseModel):
    """One benchmark and model type across the chain: a model evaluated as DPO and as a judge has two."""

    benchmark: str
    benchmark_label: str
    model_type: str
    model_type_label: str
    sections: list[str] = Field(description="section names, in the benchmark's order")
    subsets: list[str] = Field(description="subset names present, in the benchmark's order")
    points: list[SeriesPoint] = Field(description="one per member with a current result, by iteration")


class SeriesRead(BaseModel):
    root: str = Field(description="the first model of the chain")
    members: list[SeriesMember] = Field(description="every model of the series, by iteration then name")
    tracks: list[SeriesTrack]
