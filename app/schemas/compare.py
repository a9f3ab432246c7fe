"""Comparing models on one benchmark: the query and the JSON answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK

MIN_MODELS = 2
MAX_MODELS = 4


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    benchmark: str = Field(default=DEFAULT_BENCHMARK, max_length=50, description="benchmark id")
    models: list[str] = Field(
        default_factory=list,
        description=f"{MIN_MODELS} to {MAX_MODELS} model ids, comma-separated (or the parameter repeated)",
    )
    subset: str | None = Field(default=None, max_length=50, description="only disagreements in this subset")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=200)

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

    @field_validator("models", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """``a,b`` and ``models=a&models=b`` alike; blanks and repeats dropped, order kept."""
        items = value if isinstance(value, list) else [value]
        names: list[str] = []
        for item in items:
            for name in str(item).split(","):
                name = name.strip()
                if name and name not in names:
                    names.append(name)
        for name in names:
            if len(name) > 200:
                raise ValueError("a model id is at most 200 characters")
        return names


class ComparedModel(BaseModel):
    model: str
    display_name: str
    model_type: str
    model_type_label: str
    result_id: int
    complete: bool
    source: str
    score: float | None
    score_interval: list[float] | None
    interval_note: str | None
    sections: dict[str, float | None]
    section_intervals: dict[str, list[float] | None]
    has_examples: bool


class ComparedSubset(BaseModel):
    subset: str
    section: str
    values: dict[str, float | None] = Field(description="model -> subset value")
    disagreements: int = Field(description="examples in this subset the models do not all get equally right")


class Disagreement(BaseModel):
    subset: str
    example_id: str
    prompt: str | None = Field(description="the last user turn, when the text is stored")
    conversation: list[list[str]] | None
    candidates: list[str] | None
    candidate_labels: list[str] = Field(
        description="one name per candidate: chosen/rejected or correct/incorrect"
    )
    num_correct: int
    scores: dict[str, list[float | None]] = Field(description="model -> one score per candidate")
    credit: dict[str, float] = Field(
        description="model -> credit: the benchmark's outcome, or for examples scored with their subset "
        "(RewardBench 2 Ties) 1 when the top-scored answer is a correct one"
    )


class DisagreementPage(BaseModel):
    total: int = Field(description="disagreements matching the subset filter")
    all_subsets: int = Field(description="disagreements in every subset")
    compared_examples: int = Field(description="examples every model with stored examples has")
    page: int
    per_page: int
    items: list[Disagreement]


class CompareRead(BaseModel):
    benchmark: str
    models: list[ComparedModel]
    sections: list[str]
    subsets: list[ComparedSubset]
    subset: str | None
    disagreements: DisagreementPage
    notes: list[str]
