"""The model-kind registry: what kinds of reward model exist, their labels, and how each is evaluated.

``model_type`` is always a key of this registry (``classifier``, ``dpo``...); ``label`` is what pages show and
what upstream result files call the kind. Kinds without an adapter can only be imported from published files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from worker.engine.benchmarks.base import Benchmark, TiePolicy
from worker.engine.errors import InvalidSpecError

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

AdapterFactory = Callable[["EvaluationSpec", Benchmark], "RewardAdapter"]


@dataclass(frozen=True, slots=True)
class ModelKind:
    key: str
    label: str
    description: str
    tie_policy: TiePolicy
    upstream_labels: tuple[str, ...] = ()
    build_adapter: AdapterFactory | None = None

    @property
    def evaluable(self) -> bool:
        return self.build_adapter is not None


def _classifier(spec: EvaluationSpec, benchmark: Benchmark) -> RewardAdapter:
    from worker.engine.adapters.classifier import ClassifierAdapter

    return ClassifierAdapter.from_spec(spec, benchmark)


KINDS: Final[Mapping[str, ModelKind]] = MappingProxyType(
    {
        kind.key: kind
        for kind in (
            ModelKind(
                "classifier",
                "Seq. Classifier",
                "A sequence classifier (AutoModelForSequenceClassification) with one output: the reward.",
                "strict",
                ("Seq. Classifier",),
                _classifier,
            ),
            ModelKind(
                "custom-classifier",
                "Custom Classifier",
                "A classifier that needs its own code (pairwise or custom heads); imported results only.",
                "strict",
                ("Custom Classifier",),
            ),
            ModelKind(
                "dpo",
                "DPO",
                "A DPO-trained model scored by its implicit reward against a reference model.",
                "strict",
                ("DPO",),
            ),
            ModelKind(
                "dpo-ref-free",
                "DPO Ref. Free",
                "A DPO-trained model scored by its own average log-probability, without a reference.",
                "strict",
                ("DPO Ref. Free",),
            ),
            ModelKind(
                "generative",
                "Generative",
                "An LLM prompted to judge which answer is better.",
                "shared",
                ("Generative", "Generative RM", "Generative RM PoLL"),
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


def kind_for_label(text: str) -> ModelKind | None:
    """The kind a results file means by its ``model_type``: a registry key or an upstream label."""
    if text in KINDS:
        return KINDS[text]
    lowered = text.strip().lower()
    return next(
        (kind for kind in KINDS.values() if lowered in (label.lower() for label in kind.upstream_labels)),
        None,
    )


def build_adapter(spec: EvaluationSpec, benchmark: Benchmark) -> RewardAdapter:
    kind = get_kind(spec.model_type)
    if kind.build_adapter is None:
        evaluable = ", ".join(key for key, entry in KINDS.items() if entry.evaluable)
        raise InvalidSpecError(f"{kind.label} models cannot be evaluated here yet; evaluable: {evaluable}")
    return kind.build_adapter(spec, benchmark)
