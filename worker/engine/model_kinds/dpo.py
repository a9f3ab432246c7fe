"""DPO models scored by their implicit reward against a reference model (upstream's "DPO")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from worker.engine.benchmarks.base import Benchmark
from worker.engine.model_card import base_model_of
from worker.engine.model_kinds.base import (
    BYTES_PER_PARAMETER,
    DEFAULT_ESTIMATE_LENGTH,
    RUNTIME_OVERHEAD_BYTES,
    KindCheck,
    KindSettings,
    KindSettingsError,
    ModelKind,
    ModelMetadata,
    RelatedModel,
    ResolvedModel,
    activation_bytes,
    causal_lm_head,
    text_config,
    tokenizer_loads,
)
from worker.engine.model_kinds.classifier import ChatTemplateSetting
from worker.engine.model_size import first_int

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

REFERENCE = "reference"
_REVISION_PATTERN = r"^[A-Za-z0-9._/\-]+$"


class DpoSettings(KindSettings):
    reference_model: str | None = Field(
        default=None,
        max_length=200,
        title="Reference model",
        description="Hub id of the model the DPO training started from (its SFT or base checkpoint).",
        json_schema_extra={"cli_aliases": ["--ref-model"]},
    )
    reference_revision: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=_REVISION_PATTERN,
        title="Reference revision",
        description="Branch, tag or commit of the reference (default: main); pinned to its commit at submit "
        "time.",
        json_schema_extra={"cli_aliases": ["--ref-revision"]},
    )
    reference_from_card: bool = Field(
        default=False,
        title="Reference from the model card",
        description="Take the reference from the base_model named on the model card.",
        json_schema_extra={"cli_aliases": ["--ref-from-card"]},
    )
    chat_template: ChatTemplateSetting = "auto"

    @model_validator(mode="after")
    def _has_reference(self) -> DpoSettings:
        if self.reference_model is not None and not self.reference_model.strip():
            raise ValueError("reference_model is empty")
        if self.reference_model is None and not self.reference_from_card:
            raise ValueError(
                "a DPO model is scored against a reference model: name reference_model, or set "
                "reference_from_card to take the model card's base_model (or use the reference-free type)"
            )
        return self


class DpoKind(ModelKind):
    settings_type: ClassVar[type[KindSettings]] = DpoSettings
    # Two forward passes (policy and reference) over every candidate, each with a vocabulary-wide softmax.
    run_time_factor = 2.5
    related_roles = (REFERENCE,)
    related_check_names = ("reference_architecture", "reference_tokenizer")

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        from worker.engine.adapters.dpo import DpoAdapter

        assert isinstance(settings, DpoSettings)
        reference, revision = settings.reference_model, settings.reference_revision
        if reference is None:
            reference, revision = resolve_card_reference(spec), None
        return DpoAdapter.from_spec(
            spec,
            reference=reference,
            reference_revision=revision,
            chat_template=settings.chat_template,
            normalization="none",
        )

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        failed = tokenizer_loads(model)
        tokenizer = failed or KindCheck(
            "tokenizer",
            True,
            "The tokenizer loads"
            + (" and has a chat template." if model.has_chat_template else "; the Tulu template is used."),
        )
        return [causal_lm_head(model, "A DPO policy"), tokenizer]

    def needs_card(self, settings: KindSettings) -> bool:
        assert isinstance(settings, DpoSettings)
        return settings.reference_from_card

    def related_models(self, model: ModelMetadata, settings: KindSettings) -> list[RelatedModel]:
        assert isinstance(settings, DpoSettings)
        named = settings.reference_model
        if settings.reference_from_card:
            try:
                from_card = base_model_of(model.card or {}, model.repo_id)
            except Exception as error:
                raise KindSettingsError(str(getattr(error, "message", error))) from None
            if named is not None and named.lower() != from_card.lower():
                raise KindSettingsError(
                    f"the model card names {from_card} as base model, not {named}; leave reference_model "
                    "empty or untick reference_from_card"
                )
            named = from_card
        assert named is not None
        if named.lower() == model.repo_id.lower():
            raise KindSettingsError("the reference model must be another model than the policy")
        revision = settings.reference_revision or "main"
        return [RelatedModel(REFERENCE, "DPO reference model", named, revision)]

    def check_related(
        self, model: ModelMetadata, role: str, related: ModelMetadata, settings: KindSettings
    ) -> list[KindCheck]:
        return [
            causal_lm_head(related, "A DPO reference model", name="reference_architecture"),
            tokenizers_match(model, related),
        ]

    def results_fields(self, settings: KindSettings) -> dict[str, Any]:
        assert isinstance(settings, DpoSettings)
        return {"ref_model": settings.reference_model}

    def pin_settings(self, settings: KindSettings, resolved: Mapping[str, ResolvedModel]) -> KindSettings:
        reference = resolved[REFERENCE]
        return settings.model_copy(
            update={"reference_model": reference.repo_id, "reference_revision": reference.commit}
        )

    def memory_bytes(
        self,
        model: ModelMetadata,
        related: Mapping[str, ModelMetadata],
        settings: KindSettings,
        max_length: int | None = None,
    ) -> int | None:
        # One model in memory at a time: the larger of the two, with its activations and the float32
        # log-probabilities of one sequence over the vocabulary.
        models = [model, *related.values()]
        if any(meta.parameter_count is None for meta in models):
            return None
        largest = max(models, key=lambda meta: meta.parameter_count or 0)
        assert largest.parameter_count is not None
        vocabulary = first_int(text_config(largest.config), "vocab_size") or 32_000
        logits = (max_length or DEFAULT_ESTIMATE_LENGTH) * vocabulary * 4
        return (
            largest.parameter_count * BYTES_PER_PARAMETER
            + activation_bytes(largest.config, max_length)
            + logits
            + RUNTIME_OVERHEAD_BYTES
        )


def tokenizers_match(model: ModelMetadata, related: ModelMetadata) -> KindCheck:
    """The policy's tokenizer scores both models: the reference must use the same vocabulary."""
    name = "reference_tokenizer"
    if related.tokenizer is None or model.tokenizer is None:
        reason = related.tokenizer_error or model.tokenizer_error or "no tokenizer files"
        return KindCheck(name, False, f"The tokenizer of {related.repo_id} could not be loaded: {reason}")
    mine, theirs = model.tokenizer.get_vocab(), related.tokenizer.get_vocab()
    if mine != theirs:
        differing = len(set(mine.items()) ^ set(theirs.items()))
        return KindCheck(
            name,
            False,
            f"{related.repo_id} uses another vocabulary than {model.repo_id} ({differing} entries differ); "
            "the policy's tokenizer is used for both, so the reference must share it.",
        )
    vocabulary = _vocab_size(related.config)
    if vocabulary is not None and vocabulary < len(model.tokenizer):
        return KindCheck(
            name,
            False,
            f"{related.repo_id} has {vocabulary} embeddings, fewer than the tokenizer's "
            f"{len(model.tokenizer)} tokens.",
        )
    return KindCheck(name, True, f"{related.repo_id} shares the policy's tokenizer vocabulary.")


def _vocab_size(config: Mapping[str, Any]) -> int | None:
    value = config.get("vocab_size")
    if value is None and isinstance(config.get("text_config"), dict):
        value = config["text_config"].get("vocab_size")
    return int(value) if isinstance(value, int) else None


def resolve_card_reference(spec: EvaluationSpec) -> str:
    """The card's base_model of the evaluated model (the command line's --ref-from-card)."""
    from worker.engine.model_card import card_metadata
    from worker.engine.model_source import resolve_model

    source = resolve_model(spec.model, spec.revision, spec.cache_dir, allow_local=spec.allow_local_model)
    return base_model_of(card_metadata(source), spec.model)
