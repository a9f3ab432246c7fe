"""Judges whose model is served by a registered endpoint (``judging/endpoints.py``): the pairwise and the
rubric judge, with their settings, prompts and verdict reading, answered by an OpenAI-compatible server
(a ``vllm serve`` deployment, a hosted API) instead of weights loaded on the worker.

Besides the judge's own settings a run names its ``endpoint``; the submission checks pin ``served_model``,
the model the endpoint served when it was checked, so both are part of the run's identity. Nothing is read
from the Hub and no GPU is needed: the run goes to the smallest worker class. Only maintainers submit them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from worker.engine.benchmarks.base import Benchmark
from worker.engine.judging.endpoints import NAME_PATTERN
from worker.engine.model_kinds.base import KindCheck, KindSettings, ModelMetadata, SettingField
from worker.engine.model_kinds.judges import (
    PairwiseJudgeKind,
    PairwiseJudgeSettings,
    RubricJudgeKind,
    RubricJudgeSettings,
    _JudgeKind,
)

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

_ENDPOINT_HELP = (
    "The registered endpoint that serves the judge (maintainers: GET /api/v1/admin/endpoints lists them); "
    "the model id must be the endpoint's."
)
_SERVED_HELP = "Set by the submission checks: the model the endpoint serves (part of the run's identity)."
PINNED_FIELDS = frozenset({"served_model"})


class PairwiseEndpointJudgeSettings(PairwiseJudgeSettings):
    endpoint: str = Field(pattern=NAME_PATTERN, title="Endpoint", description=_ENDPOINT_HELP)
    served_model: str | None = Field(default=None, max_length=200, description=_SERVED_HELP)


class RubricEndpointJudgeSettings(RubricJudgeSettings):
    endpoint: str = Field(pattern=NAME_PATTERN, title="Endpoint", description=_ENDPOINT_HELP)
    served_model: str | None = Field(default=None, max_length=200, description=_SERVED_HELP)


class EndpointJudgeKind(_JudgeKind):
    """What the endpoint variants of the judge kinds share (first in their bases, before the judge kind).

    ``pin_endpoint`` gives the settings with the served model the submission checks found."""

    runs_on_endpoint = True
    model_check_names: tuple[str, ...] = ()

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        from worker.engine.adapters.endpoint_judge import EndpointJudgeAdapter

        assert isinstance(settings, PairwiseEndpointJudgeSettings | RubricEndpointJudgeSettings)
        return EndpointJudgeAdapter.from_spec(
            spec,
            self.planner(benchmark, settings),
            endpoint_name=settings.endpoint,
            served_model=settings.served_model,
            max_new_tokens=settings.max_new_tokens,
            seed=settings.seed if isinstance(settings, PairwiseEndpointJudgeSettings) else 0,
            record=self.record(settings),
        )

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        return []  # no Hub metadata: the endpoint checks run at submission instead

    def settings_fields(self) -> list[SettingField]:
        return [field for field in super().settings_fields() if field.name not in PINNED_FIELDS]

    def memory_bytes(
        self,
        model: ModelMetadata,
        related: Mapping[str, ModelMetadata],
        settings: KindSettings,
        max_length: int | None = None,
    ) -> int | None:
        return 0  # the endpoint holds the weights

    def pin_endpoint(self, settings: KindSettings, served_model: str) -> KindSettings:
        """The settings with the model the endpoint serves now."""
        return settings.model_copy(update={"served_model": served_model})


class PairwiseEndpointJudgeKind(EndpointJudgeKind, PairwiseJudgeKind):
    settings_type: ClassVar[type[KindSettings]] = PairwiseEndpointJudgeSettings


class RubricEndpointJudgeKind(EndpointJudgeKind, RubricJudgeKind):
    settings_type: ClassVar[type[KindSettings]] = RubricEndpointJudgeSettings
