"""The model-kind registry: what kinds of reward model exist, their labels, settings, checks and adapters.

``model_type`` is always a key of this registry (``classifier``, ``dpo``...); ``label`` is what pages show and
what upstream result files call the kind. Each kind is one definition (``worker.engine.model_kinds``); kinds
without an adapter can only be imported from published files.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from worker.engine.benchmarks.base import Benchmark
from worker.engine.errors import InvalidSpecError
from worker.engine.model_kinds.base import ModelKind
from worker.engine.model_kinds.classifier import ClassifierKind
from worker.engine.model_kinds.dpo import DpoKind
from worker.engine.model_kinds.dpo_ref_free import DpoRefFreeKind
from worker.engine.model_kinds.endpoint_judges import PairwiseEndpointJudgeKind, RubricEndpointJudgeKind
from worker.engine.model_kinds.judges import PairwiseJudgeKind, RubricJudgeKind

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

KINDS: Final[Mapping[str, ModelKind]] = MappingProxyType(
    {
        kind.key: kind
        for kind in (
            ClassifierKind(
                "classifier",
                "Seq. Classifier",
                "A sequence classifier (AutoModelForSequenceClassification) with one output: the reward.",
                upstream_labels=("Seq. Classifier",),
            ),
            ModelKind(
                "custom-classifier",
                "Custom Classifier",
                "A classifier that needs its own code (pairwise or custom heads); imported results only.",
                upstream_labels=("Custom Classifier",),
            ),
            DpoKind(
                "dpo",
                "DPO",
                "A DPO-trained model scored by its implicit reward: the summed log-probability ratio of its "
                "response tokens against a reference model.",
                upstream_labels=("DPO",),
            ),
            DpoRefFreeKind(
                "dpo-ref-free",
                "DPO Ref. Free",
                "A DPO-trained model scored by its own average log-probability, without a reference; shown "
                "apart from the main ranking, as upstream does.",
                upstream_labels=("DPO Ref. Free",),
            ),
            ModelKind(
                "generative",
                "Generative",
                "An LLM prompted to judge which answer is better (published results: API and local judges).",
                tie_policy="shared",
                upstream_labels=("Generative", "Generative RM", "Generative RM PoLL"),
            ),
            PairwiseJudgeKind(
                "judge-pairwise",
                "Pairwise judge",
                "An LLM from the Hub prompted with the MT-Bench judge prompt to pick the better answer "
                "(RewardBench 2: the best of four; Ties: a 1-10 rating per answer).",
            ),
            RubricJudgeKind(
                "judge-rubric",
                "Rubric judge",
                "An LLM from the Hub scoring each answer on its own with the Self-Rewarding additive 5-point "
                "rubric; the higher total wins.",
            ),
            PairwiseEndpointJudgeKind(
                "judge-pairwise-endpoint",
                "Pairwise judge (API)",
                "The pairwise judge with its model served by a registered OpenAI-compatible endpoint (a vLLM "
                "deployment or a hosted API); submitted by maintainers.",
            ),
            RubricEndpointJudgeKind(
                "judge-rubric-endpoint",
                "Rubric judge (API)",
                "The rubric judge with its model served by a registered OpenAI-compatible endpoint (a vLLM "
                "deployment or a hosted API); submitted by maintainers.",
            ),
        )
    }
)
DEFAULT_KIND: Final = "classifier"


def get_kind(key: str) -> ModelKind:
    try:
        return KINDS[key]
    except KeyError:
        known = ", ".join(KINDS)
        raise InvalidSpecError(f"unknown model type {key!r}; known: {known}") from None


def evaluable_kinds() -> tuple[str, ...]:
    return tuple(key for key, kind in KINDS.items() if kind.evaluable)


def kind_for_label(text: str) -> ModelKind | None:
    """The kind a results file means by its ``model_type``: a registry key, a label or an upstream label."""
    if text in KINDS:
        return KINDS[text]
    lowered = text.strip().lower()
    return next(
        (
            kind
            for kind in KINDS.values()
            if lowered in (label.lower() for label in (kind.label, *kind.upstream_labels))
        ),
        None,
    )


def build_adapter(spec: EvaluationSpec, benchmark: Benchmark) -> RewardAdapter:
    kind = get_kind(spec.model_type)
    if not kind.evaluable:
        raise InvalidSpecError(
            f"{kind.label} models cannot be evaluated here yet; evaluable: {', '.join(evaluable_kinds())}"
        )
    return kind.build_adapter(spec, benchmark, kind.parse_settings(spec.kind_settings))
