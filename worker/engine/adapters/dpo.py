"""DPO models scored by their implicit reward (upstream ``run_dpo.py``), with or without a reference.

With a reference: reward = sum over the response tokens of log pi(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t).
Without one ("DPO Ref. Free"): the policy's own response log-probabilities, averaged (upstream's default
``avg``), summed (``sum``) or ``norm`` (minus the L2 norm of the per-token log-probabilities). Texts are
tokenised as upstream does (``worker.engine.dpo_tokens``), with the policy's tokenizer for both models.

One pass per model over every distinct sequence, in length-sorted token-budgeted batches: the policy is
scored, freed, then the reference is loaded and scored, so the two are never in memory together. The logits
of a batch take ``tokens x vocabulary`` floats, so the budget is also bounded by ``LOGIT_ELEMENTS``.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import torch

from worker.engine.adapters.base import ProgressCallback, RewardAdapter
from worker.engine.adapters.causal_lm import load_causal_config, load_causal_lm
from worker.engine.adapters.hf_loading import load_tokenizer
from worker.engine.batching import score_batched
from worker.engine.device import device_name, dtype_name, free_cached_memory, pick_device, pick_dtype
from worker.engine.dpo_tokens import (
    MAX_LENGTH,
    MAX_PROMPT_LENGTH,
    TRUNCATION_MODE,
    ScoredSequence,
    candidate_sequences,
)
from worker.engine.errors import InvalidModelError, InvalidSpecError, TokenizerLoadError
from worker.engine.formatting import TemplateName, resolve_template
from worker.engine.hub_errors import first_line
from worker.engine.model_source import ModelSource, resolve_model
from worker.engine.spec import EvaluationSpec
from worker.engine.token_budget import default_budget
from worker.engine.types import CandidateScores, Example

Normalization = Literal["none", "avg", "sum", "norm"]
# Largest logits tensor of one batch, in elements (2**28 float32 = 1 GiB).
LOGIT_ELEMENTS: Final = 2**28


@dataclass(frozen=True, slots=True)
class DpoModels:
    """The policy and, unless reference-free, the reference: where their files are and which version."""

    policy: ModelSource
    reference: ModelSource | None


class DpoAdapter(RewardAdapter):
    def __init__(
        self,
        models: DpoModels,
        tokenizer: Any,
        *,
        template: TemplateName,
        device: torch.device,
        dtype: torch.dtype,
        batch_tokens: int | None,
        normalization: Normalization,
        shards: int | None = None,
        max_length: int = MAX_LENGTH,
    ) -> None:
        if batch_tokens is not None and batch_tokens < 1:
            raise InvalidSpecError(f"batch_tokens must be positive, got {batch_tokens}")
        if (models.reference is None) == (normalization == "none"):
            raise InvalidSpecError("a reference model goes with normalization 'none', and only with it")
        self.models = models
        self.tokenizer = tokenizer
        self.template = template
        self.device = device
        self.dtype = dtype
        self.batch_tokens = batch_tokens
        self.normalization = normalization
        self.pad_id = int(tokenizer.pad_token_id)
        self.bos_id = int(tokenizer.bos_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        self.shards = shards
        if max_length <= MAX_PROMPT_LENGTH:
            raise InvalidSpecError(f"max_length must exceed the prompt's {MAX_PROMPT_LENGTH} tokens")
        self.max_length = max_length
        self.architectures: dict[str, str] = {}
        self.layouts: dict[str, dict[str, Any]] = {}
        self.effective_budget: int | None = None

    @classmethod
    def from_spec(
        cls,
        spec: EvaluationSpec,
        *,
        reference: str | None,
        reference_revision: str | None,
        chat_template: str,
        normalization: Normalization,
    ) -> DpoAdapter:
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        policy = resolve_model(spec.model, spec.revision, spec.cache_dir, allow_local=spec.allow_local_model)
        reference_source = None
        if reference is not None:
            reference_source = resolve_model(
                reference, reference_revision, spec.cache_dir, allow_local=spec.allow_local_model
            )
            if (reference_source.path.resolve(), reference_source.resolved_commit) == (
                policy.path.resolve(),
                policy.resolved_commit,
            ):
                raise InvalidSpecError("the policy and the reference model must be different models")
        tokenizer = upstream_tokenizer(load_tokenizer(policy.path, spec.model), spec.model)
        template = resolve_template(tokenizer, chat_template)
        return cls(
            DpoModels(policy, reference_source),
            tokenizer,
            template=template,
            device=device,
            dtype=dtype,
            batch_tokens=spec.batch_tokens,
            normalization=normalization,
            shards=spec.shards,
            max_length=spec.truncation_length(MAX_LENGTH),
        )

    @property
    def chat_template(self) -> str:
        return self.template

    # Encoding ------------------------------------------------------------------------------------------

    def encode_examples(self, examples: Sequence[Example]) -> list[list[ScoredSequence]]:
        try:
            return [
                candidate_sequences(
                    self.tokenizer,
                    self.template,
                    example.conversation,
                    example.candidates,
                    bos_id=self.bos_id,
                    eos_id=self.eos_id,
                    max_length=self.max_length,
                )
                for example in examples
            ]
        except TokenizerLoadError:
            raise
        except Exception as exc:  # broken templates and tokenizers fail with arbitrary exception types
            raise TokenizerLoadError(
                f"{self.models.policy.model}: the chat template or tokenizer failed on the data "
                f"({first_line(exc)})"
            ) from None

    # Scoring -------------------------------------------------------------------------------------------

    def score_examples(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateScores]:
        encoded = self.encode_examples(examples)
        unique: dict[ScoredSequence, int] = {}
        slots = [[unique.setdefault(item, len(unique)) for item in items] for items in encoded]
        sequences = list(unique)
        passes = 2 if self.models.reference is not None else 1
        tracker = _PassProgress(len(examples), len(sequences) * passes, progress)
        policy_values = self._score_with(self.models.policy, sequences, self.normalization, tracker)
        values = policy_values
        if self.models.reference is not None:
            reference_values = self._score_with(self.models.reference, sequences, "sum", tracker)
            values = [p - r for p, r in zip(policy_values, reference_values, strict=True)]
        return [tuple(values[index] for index in example_slots) for example_slots in slots]

    def _score_with(
        self,
        source: ModelSource,
        sequences: Sequence[ScoredSequence],
        normalization: Normalization,
        tracker: _PassProgress,
    ) -> list[float]:
        config = load_causal_config(source.path, source.model)
        model, layout = load_causal_lm(
            source.path, source.model, config, self.dtype, self.device, self.shards
        )
        try:
            self.architectures[source.model] = type(model).__name__
            self.layouts[source.model] = layout.describe()
            vocabulary = int(model.get_output_embeddings().weight.shape[0])
            largest = max((max(item.ids) for item in sequences), default=0)
            if largest >= vocabulary:
                raise InvalidModelError(
                    f"{source.model}: its vocabulary has {vocabulary} tokens but the policy's tokenizer "
                    f"gives id {largest}; the reference must share the policy's tokenizer"
                )
            asked = self.batch_tokens or default_budget(self.device, config, self.dtype).tokens
            budget = max(1, min(asked, LOGIT_ELEMENTS // vocabulary))
            self.effective_budget = budget
            return score_batched(
                [len(item) for item in sequences],
                budget,
                lambda batch: self._forward(model, [sequences[i] for i in batch], normalization, source),
                on_batch=tracker.done,
                on_oom=lambda: free_cached_memory(self.device),
            )
        finally:
            model = None
            gc.collect()
            free_cached_memory(self.device)

    @torch.inference_mode()
    def _forward(
        self, model: Any, items: Sequence[ScoredSequence], normalization: Normalization, source: ModelSource
    ) -> list[float]:
        """Right-padded: real tokens keep their positions, so padding never changes a log-probability."""
        width = max(len(item) for item in items)
        input_ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        scored = torch.zeros((len(items), width), dtype=torch.bool)
        for row, item in enumerate(items):
            input_ids[row, : len(item)] = torch.tensor(item.ids, dtype=torch.long)
            attention[row, : len(item)] = 1
            scored[row, item.response_start : len(item)] = True
        logits = model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)).logits
        # The token at position t is predicted by the logits at t - 1. Sharded, the logits are on the last
        # shard's device.
        logits = logits[:, :-1].float()
        targets = input_ids[:, 1:].to(logits.device)
        mask = scored[:, 1:].to(logits.device)
        picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        token_logps = (picked - torch.logsumexp(logits, dim=-1)) * mask
        if normalization == "avg":
            values = token_logps.sum(-1) / mask.sum(-1)
        elif normalization == "norm":
            values = -torch.linalg.vector_norm(token_logps, ord=2, dim=-1)
        else:
            values = token_logps.sum(-1)
        if not torch.isfinite(values).all():
            raise InvalidModelError(
                f"{source.model}: non-finite log-probability (NaN or inf) in {self.dtype}; "
                "try --dtype float32"
            )
        result: list[float] = values.cpu().tolist()
        return result

    def describe(self) -> dict[str, Any]:
        policy = self.models.policy
        reference = self.models.reference
        return {
            **policy.describe(),
            "reference": reference.describe() if reference is not None else None,
            "architecture": self.architectures.get(policy.model),
            "layout": self.layouts.get(policy.model),
            "reference_layout": self.layouts.get(reference.model) if reference is not None else None,
            "dtype": dtype_name(self.dtype),
            "device": str(self.device),
            "device_name": device_name(self.device),
            "chat_template": self.template,
            "reward": (
                "sum over response tokens of log pi_policy - log pi_reference"
                if reference is not None
                else f"reference-free: {self.normalization} of the policy's response-token log-probabilities"
            ),
            "tokenization": {
                "rule": "upstream run_dpo.py tokenize_row (TRL)",
                "prompt_removed_with": "str.replace over the full text (the assistant header is scored)",
                "bos_prepended": True,
                "eos_appended": True,
                "max_length": self.max_length,
                "max_prompt_length": MAX_PROMPT_LENGTH,
                "truncation_mode": TRUNCATION_MODE,
                "tokenizer": "the policy's, for both models (pad = EOS; BOS = EOS when missing)",
            },
            "passes": "policy, then reference; one model in memory at a time" if reference else "policy",
            "batch_tokens": self.batch_tokens,
            "batch_tokens_used": self.effective_budget,
            "padding": "right",
            "logits_precision": "float32",
        }


def upstream_tokenizer(tokenizer: Any, name: str) -> Any:
    """Upstream's setup: pad = EOS always; without a BOS token, BOS = EOS."""
    if tokenizer.eos_token_id is None:
        raise TokenizerLoadError(f"{name}: the tokenizer has no EOS token, which DPO scoring appends")
    tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token_id is None:
        tokenizer.bos_token = tokenizer.eos_token
    return tokenizer


class _PassProgress:
    """Texts scored over all passes, reported as examples: an example counts once all passes cover it."""

    def __init__(self, examples: int, units: int, callback: ProgressCallback | None) -> None:
        self.examples = examples
        self.units = max(units, 1)
        self.callback = callback
        self.finished = 0

    def done(self, batch: Sequence[int], values: Sequence[float] = ()) -> None:
        self.finished += len(batch)
        if self.callback is not None:
            self.callback(self.examples * self.finished // self.units, self.examples)
