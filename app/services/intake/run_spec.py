"""The run specification: built once from the submission, it carries every setting that changes a result.

``RunConfig`` is fixed at submit time and stored on the submission (``run_config``); ``config_key`` is its
hash, so duplicates are found on every setting, the data included. ``RunSpec`` is what a worker runs: the
submission's model, commit and attempt plus its ``RunConfig``. Settings that cannot change a decision (the
token budget, the weights cache) stay with the worker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from worker.engine.benchmarks import get_benchmark
from worker.engine.judging.endpoints import EndpointSources
from worker.engine.kinds import get_kind
from worker.engine.model_kinds.base import KindSettings, ModelKind
from worker.engine.spec import EvaluationSpec


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: str
    model_type: str = Field(description="kind key")
    kind_settings: dict[str, Any] = Field(default_factory=dict, description="the kind's own settings")
    max_length: int | None = Field(
        description="tokens a text keeps (classifiers, DPO) or a judge's prompt and answer may use; None: "
        "the judge's own context"
    )
    dataset: str | None = Field(
        default=None, description="None: the benchmark's pinned Hub dataset; else the operator's local copy"
    )
    limit_per_subset: int | None = None
    extra_parts: list[str] = Field(default_factory=list, description="optional data parts, e.g. prior-sets")

    def key(self) -> str:
        """sha256 of the canonical JSON: equal settings, equal keys (also across processes and versions)."""
        document = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(document.encode()).hexdigest()

    def public(self) -> dict[str, Any]:
        """The settings as published with a result: a local dataset is named by its file, never its path."""
        document = self.model_dump(mode="json")
        if self.dataset is not None:
            document["dataset"] = PurePath(self.dataset).name
        return document

    @property
    def partial(self) -> bool:
        return self.limit_per_subset is not None

    def kind(self) -> ModelKind:
        return get_kind(self.model_type)

    def settings(self) -> KindSettings:
        """The kind settings, typed and checked by the kind."""
        return self.kind().parse_settings(self.kind_settings)

    def time_factor(self) -> float:
        """Expected run time relative to a classifier's (ETA, time limit)."""
        return self.kind().time_factor(self.settings())

    def length_factor(self) -> float:
        """How much longer than the benchmark's default max_length this run's is (at least 1): an upper
        bound on how much more each example costs."""
        if self.max_length is None:
            return 1.0
        return max(1.0, self.max_length / get_benchmark(self.benchmark).default_max_length)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One attempt at evaluating a submission: what to run and the fencing token that run holds."""

    submission_id: int
    attempt: int
    reward_model_id: int
    hub_id: str
    commit: str
    requested_revision: str
    config: RunConfig

    def evaluation_spec(
        self,
        *,
        batch_tokens: int | None,
        cache_dir: str | None,
        generation_backend: str = "auto",
        endpoints: EndpointSources | None = None,
    ) -> EvaluationSpec:
        return EvaluationSpec(
            model=self.hub_id,
            revision=self.commit,
            model_type=self.config.model_type,
            kind_settings=dict(self.config.kind_settings),
            benchmark=self.config.benchmark,
            dataset=self.config.dataset,
            extra_parts=tuple((name, None) for name in self.config.extra_parts),
            limit_per_subset=self.config.limit_per_subset,
            max_length=self.config.max_length,
            batch_tokens=batch_tokens,
            generation_backend=generation_backend,
            cache_dir=cache_dir,
            allow_local_model=False,
            endpoints=endpoints,
        )
