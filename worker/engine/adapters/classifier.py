"""Sequence-classifier reward models (AutoModelForSequenceClassification): reward = logit 0, last token."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import torch

from worker.engine.adapters.base import ProgressCallback, RewardAdapter, report_examples_done
from worker.engine.adapters.hf_loading import (
    load_classifier,
    load_config,
    load_tokenizer,
    saved_tokenizer_class,
)
from worker.engine.batching import score_batched
from worker.engine.benchmarks.base import Benchmark, TruncationSide
from worker.engine.device import device_name, dtype_name, free_cached_memory, pick_device, pick_dtype
from worker.engine.errors import InvalidModelError, InvalidSpecError, TokenizerLoadError
from worker.engine.formatting import Encoded, Encoder, resolve_template, upstream_appends_eos
from worker.engine.hub_errors import first_line
from worker.engine.model_source import ModelSource, resolve_model
from worker.engine.spec import EvaluationSpec
from worker.engine.types import CandidateScores, Example


class ClassifierAdapter(RewardAdapter):
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        source: ModelSource,
        *,
        chat_template: str = "auto",
        max_length: int = 2048,
        batch_tokens: int = 16384,
        tulu_eos: bool = True,
        truncation_side: TruncationSide = "left",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.source = source
        self.device: torch.device = next(model.parameters()).device
        self.dtype: torch.dtype = next(model.parameters()).dtype
        if batch_tokens < 1:
            raise InvalidSpecError(f"batch_tokens must be positive, got {batch_tokens}")
        self.batch_tokens = batch_tokens
        template = resolve_template(tokenizer, chat_template)
        self.encoder = Encoder(
            tokenizer, template, max_length, tulu_eos=tulu_eos, truncation_side=truncation_side
        )
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        # Pad with the id the model's pooling skips, so padding never moves the scored position.
        self.pad_id: int = int(model.config.pad_token_id)

    @classmethod
    def from_spec(cls, spec: EvaluationSpec, benchmark: Benchmark) -> ClassifierAdapter:
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        source = resolve_model(spec.model, spec.revision, spec.cache_dir, allow_local=spec.allow_local_model)
        config = load_config(source.path, spec.model)
        tokenizer = load_tokenizer(source.path, spec.model)
        model = load_classifier(source.path, spec.model, config, dtype, device)
        return cls(
            model,
            tokenizer,
            source,
            chat_template=spec.chat_template,
            max_length=spec.max_length,
            batch_tokens=spec.batch_tokens,
            tulu_eos=upstream_appends_eos(
                saved_tokenizer_class(source.path), getattr(config, "model_type", None)
            ),
            truncation_side=benchmark.truncation_side,
        )

    @property
    def chat_template(self) -> str:
        return self.encoder.template

    def encode_examples(self, examples: Sequence[Example]) -> list[Encoded]:
        """Token ids of every candidate text, example after example, candidates in order."""
        try:
            texts = [
                text
                for example in examples
                for text in self.encoder.texts(example.conversation, example.candidates)
            ]
            return self.encoder.encode(texts)
        except TokenizerLoadError:
            raise
        except Exception as exc:  # broken templates and tokenizers fail with arbitrary exception types
            raise TokenizerLoadError(
                f"{self.source.model}: the chat template or tokenizer failed on the data ({first_line(exc)})"
            ) from None

    def score_examples(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateScores]:
        """Every candidate's reward. Identical inputs are scored once, so they always tie exactly."""
        encoded = self.encode_examples(examples)
        sizes = [len(example.candidates) for example in examples]
        unique: dict[Encoded, int] = {}
        slot = [unique.setdefault(item, len(unique)) for item in encoded]
        unique_scores = self.score_encoded(list(unique), _ExampleProgress(sizes, progress, slot))
        scores = [unique_scores[index] for index in slot]
        grouped: list[CandidateScores] = []
        start = 0
        for size in sizes:
            grouped.append(tuple(scores[start : start + size]))
            start += size
        return grouped

    def score_encoded(
        self, encoded: Sequence[Encoded], progress: _ExampleProgress | None = None
    ) -> list[float]:
        """Rewards for already-encoded texts, in length-sorted token-budgeted batches."""
        return score_batched(
            [len(item) for item in encoded],
            self.batch_tokens,
            lambda batch: self.forward([encoded[i] for i in batch]),
            on_batch=progress.texts_done if progress is not None else None,
            on_oom=lambda: free_cached_memory(self.device),
        )

    @torch.inference_mode()
    def forward(self, items: Sequence[Encoded]) -> list[float]:
        """One right-padded forward pass: real tokens keep their positions, so padding cannot move a score."""
        width = max(len(item) for item in items)
        input_ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, item in enumerate(items):
            input_ids[row, : len(item)] = torch.tensor(item.ids, dtype=torch.long)
            attention_mask[row, : len(item)] = 1
            if item.mask_first:
                attention_mask[row, 0] = 0
        logits = self.model(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
        ).logits
        rewards = logits[:, 0].float()
        if not torch.isfinite(rewards).all():
            # A NaN would silently count as a lost pair; stop instead.
            raise InvalidModelError(
                f"{self.source.model}: non-finite reward (NaN or inf) in {self.dtype}; try --dtype float32"
            )
        values: list[float] = rewards.cpu().tolist()
        return values

    def describe(self) -> dict[str, Any]:
        return {
            **self.source.describe(),
            "architecture": type(self.model).__name__,
            "dtype": dtype_name(self.dtype),
            "device": str(self.device),
            "device_name": device_name(self.device),
            "chat_template": self.chat_template,
            "eos_appended": self.encoder.append_eos,
            "max_length": self.encoder.max_length,
            "truncation_side": self.encoder.truncation_side,
            "batch_tokens": self.batch_tokens,
            "padding": "right",
            "pad_token_id": self.pad_id,
            "attn_implementation": getattr(self.model.config, "_attn_implementation", None),
        }

    def close(self) -> None:
        device = self.device
        self.model = None
        gc.collect()
        free_cached_memory(device)


class _ExampleProgress:
    """Turns "these texts are scored" into progress(done_examples, total): an example needs all its texts.

    ``slot[i]`` is the scored (deduplicated) text that stands for the examples' text ``i``.
    """

    def __init__(self, sizes: Sequence[int], callback: ProgressCallback | None, slot: Sequence[int]) -> None:
        self.total = len(sizes)
        self.callback = callback
        self.remaining = list(sizes)
        owners = [index for index, size in enumerate(sizes) for _ in range(size)]
        self.owners: dict[int, list[int]] = {}
        for text, scored in enumerate(slot):
            self.owners.setdefault(scored, []).append(owners[text])
        self.done = 0

    def texts_done(self, text_indices: Sequence[int]) -> None:
        finished = []
        for index in text_indices:
            for example in self.owners[index]:
                self.remaining[example] -= 1
                if self.remaining[example] == 0:
                    self.done += 1
                    finished.append(example)
        report_examples_done(self.callback, finished)
        if self.callback is not None:
            self.callback(self.done, self.total)
