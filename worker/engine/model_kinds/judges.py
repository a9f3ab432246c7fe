"""LLM judges: the pairwise MT-Bench judge (upstream ``run_generative.py`` / ``run_generative_v2.py``) and the
Self-Rewarding rubric judge (Yuan et al. 2024), each its own model type so the two schemes can be compared
on one model. Both generate text greedily, so a run takes far longer than a classifier's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

from pydantic import Field

from worker.engine.benchmarks.base import Benchmark
from worker.engine.judging.diagnostics import judge_diagnostics
from worker.engine.judging.protocols import (
    PickOptions,
    Plan,
    pick_plan,
    ratings_plan,
    rubric_plan,
)
from worker.engine.model_kinds.base import (
    BYTES_PER_PARAMETER,
    RUNTIME_OVERHEAD_BYTES,
    KindCheck,
    KindSettings,
    ModelKind,
    ModelMetadata,
    causal_lm_head,
    hidden_size,
    position_limit,
    text_config,
    tokenizer_loads,
)
from worker.engine.model_size import first_int
from worker.engine.types import Example, ScoredExample

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

# Upstream generates up to 2048 tokens (vLLM, local models); more is never allowed here.
DEFAULT_MAX_NEW_TOKENS: Final = 2048
MAX_NEW_TOKENS_CAP: Final = 4096
# Context the KV-cache estimate assumes for one sequence when the config gives none.
_CONTEXT_FOR_ESTIMATE: Final = 8192


class PairwiseJudgeSettings(KindSettings):
    both_orders: bool = Field(
        default=False,
        title="Judge both orders",
        description="Show every example in two orders (the second reversed); an answer wins only when both "
        "verdicts name it. Doubles the run time; reports the position-bias rate.",
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        title="Seed",
        description="Seeds the answer order of each example (upstream's order is unseeded).",
    )
    max_new_tokens: int = Field(
        default=DEFAULT_MAX_NEW_TOKENS,
        ge=1,
        le=MAX_NEW_TOKENS_CAP,
        title="Max new tokens",
        description=f"Longest judge answer, in tokens (upstream: 2048; at most {MAX_NEW_TOKENS_CAP}).",
    )
    score_with_ratings: bool = Field(
        default=False,
        title="Score with ratings",
        description="Rate each answer 1-10 on its own instead of picking one (upstream's --score_w_ratings); "
        "RewardBench 2 Ties is always rated.",
    )


class RubricJudgeSettings(KindSettings):
    max_new_tokens: int = Field(
        default=DEFAULT_MAX_NEW_TOKENS,
        ge=1,
        le=MAX_NEW_TOKENS_CAP,
        title="Max new tokens",
        description=f"Longest judge answer, in tokens (at most {MAX_NEW_TOKENS_CAP}).",
    )


class _JudgeKind(ModelKind):
    tie_policy = "shared"
    # Generating a verdict costs far more than one forward pass: a rough, recorded factor for ETAs and limits.
    run_time_factor = 20.0

    def planner(self, benchmark: Benchmark, settings: KindSettings) -> Any:
        raise NotImplementedError

    def record(self, settings: KindSettings) -> dict[str, Any]:
        raise NotImplementedError

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        from worker.engine.adapters.judge import JudgeAdapter

        max_new_tokens = int(getattr(settings, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
        return JudgeAdapter.from_spec(
            spec,
            self.planner(benchmark, settings),
            max_new_tokens=max_new_tokens,
            record=self.record(settings),
        )

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        failed = tokenizer_loads(model)
        if failed is not None:
            tokenizer = failed
        elif not model.has_chat_template:
            tokenizer = KindCheck(
                "tokenizer",
                False,
                "A judge is prompted through its chat template, and this tokenizer has none.",
            )
        else:
            tokenizer = KindCheck("tokenizer", True, "The tokenizer loads and has a chat template.")
        return [causal_lm_head(model, "A judge"), tokenizer]

    def diagnostics(self, scored: Sequence[ScoredExample]) -> dict[str, Any] | None:
        return judge_diagnostics(scored)

    def default_max_length(self, benchmark_default: int) -> int | None:
        return None  # a judge reads whole conversations, as upstream: its own context, unless asked

    def memory_bytes(
        self,
        model: ModelMetadata,
        related: Mapping[str, ModelMetadata],
        settings: KindSettings,
        max_length: int | None = None,
    ) -> int | None:
        if model.parameter_count is None:
            return None
        weights = model.parameter_count * BYTES_PER_PARAMETER
        return weights + kv_cache_bytes(model.config, max_length) + RUNTIME_OVERHEAD_BYTES


def kv_cache_bytes(config: Mapping[str, Any], max_length: int | None = None) -> int:
    """Keys and values of one sequence in 16 bits, at ``max_length`` or else the model's context (at most
    8192 tokens): what one generating batch needs at least."""
    text = text_config(config)
    layers = first_int(text, "num_hidden_layers", "n_layer", "num_layers") or 32
    heads = first_int(text, "num_attention_heads", "n_head") or 32
    kv_heads = first_int(text, "num_key_value_heads") or heads
    head_dim = first_int(text, "head_dim") or hidden_size(config) // max(heads, 1)
    context = max_length or min(position_limit(config) or _CONTEXT_FOR_ESTIMATE, _CONTEXT_FOR_ESTIMATE)
    return 2 * layers * kv_heads * head_dim * context * BYTES_PER_PARAMETER


class PairwiseJudgeKind(_JudgeKind):
    settings_type: ClassVar[type[KindSettings]] = PairwiseJudgeSettings

    def planner(self, benchmark: Benchmark, settings: KindSettings) -> Any:
        assert isinstance(settings, PairwiseJudgeSettings)
        options = PickOptions(seed=settings.seed, both_orders=settings.both_orders)

        def plan(example: Example) -> Plan:
            if benchmark.graded_subset(example.subset):
                return ratings_plan(example, ties=True)
            if settings.score_with_ratings:
                return ratings_plan(example, ties=False)
            return pick_plan(example, options)

        return plan

    def record(self, settings: KindSettings) -> dict[str, Any]:
        assert isinstance(settings, PairwiseJudgeSettings)
        return {
            "scheme": "pairwise (MT-Bench pair-v2 without tie; four-way for four answers)"
            if not settings.score_with_ratings
            else "ratings 1-10 per answer",
            "graded_subsets": "rated 1-10 with the Ties prompt",
            "order": "seeded per example (seed, subset, id)",
            "seed": settings.seed,
            "both_orders": settings.both_orders,
            "non_answer": "equal scores for every answer: a tie",
        }

    def time_factor(self, settings: KindSettings) -> float:
        assert isinstance(settings, PairwiseJudgeSettings)
        scale = max(settings.max_new_tokens / DEFAULT_MAX_NEW_TOKENS, 0.05)
        return max(self.run_time_factor * (2 if settings.both_orders else 1) * scale, 1.0)


class RubricJudgeKind(_JudgeKind):
    settings_type: ClassVar[type[KindSettings]] = RubricJudgeSettings
    run_time_factor = 40.0  # one answer per candidate

    def planner(self, benchmark: Benchmark, settings: KindSettings) -> Any:
        return rubric_plan

    def record(self, settings: KindSettings) -> dict[str, Any]:
        return {
            "scheme": "Self-Rewarding additive 5-point rubric, one answer scored per call",
            "parse": "last 'Score: N' (0-5, optionally /5)",
            "samples": "one greedy answer per response (the paper averages 3 samples)",
            "pair_rule": "higher total wins; equal totals or an unreadable side tie (0.5 in RewardBench v1)",
            "unreadable_score": -1,
        }

    def time_factor(self, settings: KindSettings) -> float:
        assert isinstance(settings, RubricJudgeSettings)
        return max(self.run_time_factor * max(settings.max_new_tokens / DEFAULT_MAX_NEW_TOKENS, 0.05), 1.0)
