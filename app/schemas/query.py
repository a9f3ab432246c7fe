"""What the query models of the pages and the API share: a benchmark id, and blank fields meaning unset."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from worker.engine.benchmarks import BENCHMARKS


def known_benchmark(value: str) -> str:
    if value not in BENCHMARKS:
        raise ValueError(f"unknown benchmark; known: {', '.join(BENCHMARKS)}")
    return value


BenchmarkId = Annotated[
    str,
    Field(max_length=50, description=f"benchmark id: {', '.join(BENCHMARKS)}"),
    AfterValidator(known_benchmark),
]


class QueryModel(BaseModel):
    """Query-string parameters: unknown ones are ignored, and an empty one means "not set"."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An empty form field (``?q=&source=``, as a GET form sends it) means "not set"."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
