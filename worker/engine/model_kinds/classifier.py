"""Sequence classifiers (AutoModelForSequenceClassification, one label): upstream's "Seq. Classifier"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from worker.engine.benchmarks.base import Benchmark
from worker.engine.model_kinds.base import KindCheck, KindSettings, ModelKind, ModelMetadata, tokenizer_loads

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

ChatTemplateChoice = Literal["auto", "tokenizer", "tulu"]
ChatTemplateSetting = Annotated[
    ChatTemplateChoice,
    Field(
        title="Chat template",
        description="auto: the tokenizer's template when it has one, else Tulu (as upstream); tokenizer: "
        "the tokenizer's (an error without one); tulu: always Tulu.",
    ),
]


class ClassifierSettings(KindSettings):
    chat_template: ChatTemplateSetting = "auto"


class ClassifierKind(ModelKind):
    settings_type: ClassVar[type[KindSettings]] = ClassifierSettings

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        from worker.engine.adapters.classifier import ClassifierAdapter

        return ClassifierAdapter.from_spec(spec, benchmark)

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        return [_head(model), _tokenizer(model)]


def _head(model: ModelMetadata) -> KindCheck:
    heads = [name for name in model.architectures if name.endswith("ForSequenceClassification")]
    if not heads:
        found = ", ".join(model.architectures) or "none listed"
        return KindCheck(
            "architecture",
            False,
            f"A classifier reward model needs a *ForSequenceClassification head; config.json lists {found}.",
        )
    missing = _class_missing(model.config, heads)
    if missing is not None:
        return KindCheck("architecture", False, missing)
    labels = _num_labels(model.config)
    if labels != 1:
        return KindCheck(
            "architecture",
            False,
            f"{heads[0]} has {labels} labels; a reward model must output exactly one score (num_labels = 1).",
        )
    return KindCheck("architecture", True, f"{heads[0]} with one output: a scalar reward.")


def _class_missing(config: Any, heads: list[str]) -> str | None:
    """Why transformers cannot build this classifier without remote code, or None when it can: the worker
    loads AutoModelForSequenceClassification's class for the config's model type."""
    try:
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES
    except ImportError:  # a web process without the worker extra: the worker decides
        return None
    model_type = config.get("model_type")
    if model_type is None:
        known = set(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.values())
        return None if heads[0] in known else f"transformers has no class {heads[0]}."
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        return (
            f"transformers has no sequence-classification class for model type {model_type!r} "
            f"(config.json lists {heads[0]}); remote code is never run."
        )
    return None


def _tokenizer(model: ModelMetadata) -> KindCheck:
    failed = tokenizer_loads(model)
    if failed is not None:
        return failed
    if model.has_chat_template:
        return KindCheck("tokenizer", True, "The tokenizer loads and has a chat template.")
    return KindCheck(
        "tokenizer", True, "The tokenizer loads; it has no chat template, so the Tulu template is used."
    )


def _num_labels(config: Any) -> int:
    if isinstance(config.get("num_labels"), int):
        return int(config["num_labels"])
    id2label = config.get("id2label")
    if isinstance(id2label, dict):
        return len(id2label)
    return 2  # transformers' default
