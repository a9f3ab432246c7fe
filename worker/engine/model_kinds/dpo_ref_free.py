"""DPO models scored without a reference (upstream's "DPO Ref. Free"), shown apart from the main ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from worker.engine.benchmarks.base import Benchmark
from worker.engine.model_kinds.base import (
    KindCheck,
    KindSettings,
    ModelKind,
    ModelMetadata,
    causal_lm_head,
    tokenizer_loads,
)
from worker.engine.model_kinds.classifier import ChatTemplateSetting

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec


class DpoRefFreeSettings(KindSettings):
    normalization: Literal["avg", "sum", "norm"] = Field(
        default="avg",
        title="Normalization",
        description="avg: mean log-probability of the response tokens (upstream's default); sum: their sum; "
        "norm: minus the L2 norm of the per-token log-probabilities.",
        json_schema_extra={"cli_aliases": ["--ref-free-type"]},
    )
    chat_template: ChatTemplateSetting = "auto"


class DpoRefFreeKind(ModelKind):
    settings_type: ClassVar[type[KindSettings]] = DpoRefFreeSettings
    ranked_with_others = False
    run_time_factor = 1.3

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        from worker.engine.adapters.dpo import DpoAdapter

        assert isinstance(settings, DpoRefFreeSettings)
        return DpoAdapter.from_spec(
            spec,
            reference=None,
            reference_revision=None,
            chat_template=settings.chat_template,
            normalization=settings.normalization,
        )

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        tokenizer = tokenizer_loads(model) or KindCheck("tokenizer", True, "The tokenizer loads.")
        return [causal_lm_head(model, "A DPO model"), tokenizer]
