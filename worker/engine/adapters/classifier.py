"""Sequence-classifier reward models (AutoModelForSequenceClassification): reward = logit 0, last token."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from worker.engine.adapters.base import ProgressCallback, RewardAdapter, report_examples_done
from worker.engine.adapters.hf_loading import (
    load_classifier,
    load_config,
    load_tokenizer,
    saved_tokenizer_class,
)
from worker.engine.attention import (
    ATTENTION,
    VARLEN,
    AttentionChoice,
    pick_attention,
    register_varlen_attention,
)
from worker.engine.batching import score_batched
from worker.engine.benchmarks.base import Benchmark, TruncationSide
from worker.engine.device import (
    device_name,
    dtype_name,
    free_cached_memory,
    one_thread_per_operation,
    pick_device,
    pick_dtype,
)
from worker.engine.errors import InvalidModelError, InvalidSpecError, TokenizerLoadError
from worker.engine.formatting import Encoded, Encoder, resolve_template, upstream_appends_eos
from worker.engine.hub_errors import first_line
from worker.engine.layout import Layout, plan_layout
from worker.engine.model_source import ModelSource, resolve_model
from worker.engine.packing import pack
from worker.engine.pad_rule import apply_upstream_pad_rule
from worker.engine.prefetch import chunk_by_texts, prefetched
from worker.engine.spec import EvaluationSpec
from worker.engine.token_budget import TokenBudget, default_budget
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
        batch_tokens: int | TokenBudget | None = None,
        attention: AttentionChoice | None = None,
        tulu_eos: bool = True,
        truncation_side: TruncationSide = "left",
        layout: Layout | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.source = source
        self.device: torch.device = next(model.parameters()).device
        self.dtype: torch.dtype = next(model.parameters()).dtype
        self.layout = layout or Layout.one_device(self.device)
        self.attention = attention or ATTENTION.get(model.config._attn_implementation) or ATTENTION["sdpa"]
        if isinstance(batch_tokens, int):
            if batch_tokens < 1:
                raise InvalidSpecError(f"batch_tokens must be positive, got {batch_tokens}")
            batch_tokens = TokenBudget(batch_tokens, "asked")
        self.budget = batch_tokens or default_budget(self.device, model.config, self.dtype)
        # On a CPU, one batch per core, each operation on one thread (see batching.py).
        self.workers = torch.get_num_threads() if self.device.type == "cpu" else 1
        template = resolve_template(tokenizer, chat_template)
        self.encoder = Encoder(
            tokenizer, template, max_length, tulu_eos=tulu_eos, truncation_side=truncation_side
        )
        self.pad = apply_upstream_pad_rule(tokenizer, model.config)
        # Pad with the id the model's pooling skips, so padding never moves the scored position.
        self.pad_id: int = self.pad.pad_id

    @classmethod
    def from_spec(cls, spec: EvaluationSpec, benchmark: Benchmark) -> ClassifierAdapter:
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        source = resolve_model(spec.model, spec.revision, spec.cache_dir, allow_local=spec.allow_local_model)
        config = load_config(source.path, spec.model)
        max_length = spec.truncation_length(benchmark.default_max_length)
        attention = pick_attention(spec.attention, device, dtype, config, max_length)
        if attention.name == VARLEN:
            register_varlen_attention()
        from transformers import AutoModelForSequenceClassification

        layout = plan_layout(AutoModelForSequenceClassification, config, dtype, device, spec.shards)
        # No pad fallback here: the adapter applies upstream's pad rule to tokenizer and config together.
        tokenizer = load_tokenizer(source.path, spec.model, pad_from_eos=False)
        model = load_classifier(
            source.path, spec.model, config, dtype, device, attention.hf_implementation, layout
        )
        return cls(
            model,
            tokenizer,
            source,
            chat_template=spec.chat_template,
            max_length=max_length,
            batch_tokens=spec.batch_tokens,  # None: sized now, with the weights already on the device
            attention=attention,
            tulu_eos=upstream_appends_eos(
                saved_tokenizer_class(source.path), getattr(config, "model_type", None)
            ),
            truncation_side=benchmark.truncation_side,
            layout=layout,
        )

    @property
    def chat_template(self) -> str:
        return self.encoder.template

    @property
    def batch_tokens(self) -> int:
        return self.budget.tokens

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
        """Every candidate's reward; the next chunk of examples is tokenised while this one is scored.

        Identical inputs within a chunk (chunks never split an example) are scored once, so they tie exactly.
        """
        sizes = [len(example.candidates) for example in examples]
        tracker = _ExampleProgress(sizes, progress)
        grouped: list[CandidateScores] = []
        for chunk, encoded in prefetched(examples, chunk_by_texts(sizes), self.encode_examples):
            unique: dict[Encoded, int] = {}
            slot = [unique.setdefault(item, len(unique)) for item in encoded]
            unique_scores = self.score_encoded(
                list(unique), tracker.for_chunk(sum(sizes[: chunk.start]), slot)
            )
            scores = [unique_scores[index] for index in slot]
            start = 0
            for size in sizes[chunk.start : chunk.stop]:
                grouped.append(tuple(scores[start : start + size]))
                start += size
        return grouped

    def score_encoded(
        self, encoded: Sequence[Encoded], on_batch: Callable[[Sequence[int]], None] | None = None
    ) -> list[float]:
        """Rewards for already-encoded texts, in length-sorted token-budgeted batches (packed or padded)."""

        def done(indices: Sequence[int], values: Sequence[float]) -> None:
            if not all(math.isfinite(value) for value in values):
                # A NaN would silently count as a lost pair; stop instead.
                raise InvalidModelError(
                    f"{self.source.model}: non-finite reward (NaN or inf) in {dtype_name(self.dtype)}; "
                    "try --dtype float32"
                )
            if on_batch is not None:
                on_batch(indices)

        with one_thread_per_operation(self.workers):
            return score_batched(
                [len(item) for item in encoded],
                self.batch_tokens,
                lambda batch: self.forward([encoded[i] for i in batch]),
                on_batch=done,
                on_oom=lambda: free_cached_memory(self.device),
                packed=self.attention.packed,
                workers=self.workers,
            )

    @torch.inference_mode()
    def forward(self, items: Sequence[Encoded]) -> torch.Tensor:
        """Rewards of one batch, as a float32 tensor still on the device (read later, without a sync now)."""
        if self.attention.packed:
            return self._forward_packed(items)
        return self._forward_padded(items)

    def _forward_padded(self, items: Sequence[Encoded]) -> torch.Tensor:
        """Right-padded: real tokens keep their positions, so padding cannot move a score."""
        width = max(len(item) for item in items)
        input_ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, item in enumerate(items):
            input_ids[row, : len(item)] = torch.tensor(item.ids, dtype=torch.long)
            attention_mask[row, : len(item)] = 1
            if item.mask_first:
                attention_mask[row, 0] = 0
        logits = self.model(
            input_ids=input_ids.to(self.device, non_blocking=True),
            attention_mask=attention_mask.to(self.device, non_blocking=True),
            use_cache=False,
        ).logits
        return logits[:, 0].float()

    def _forward_packed(self, items: Sequence[Encoded]) -> torch.Tensor:
        """One padding-free row; the score head is applied where the model's own pooling would read."""
        row = pack(items, self.pad_id).to(self.device)
        hidden = self.model.base_model(
            input_ids=row.input_ids, position_ids=row.position_ids, use_cache=False, **row.attention_kwargs
        ).last_hidden_state
        # Sharded, the last hidden state is on the last shard's device, where the head is.
        return self.model.score(hidden[0, row.scored.to(hidden.device)])[:, 0].float()

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
            **self.budget.describe(),
            "concurrent_batches": self.workers,
            "padding": "none (packed)" if self.attention.packed else "right",
            "pad_token_id": self.pad_id,
            "pad_rule": self.pad.rule,
            "padding_side_saved": self.pad.saved_side,
            **self.layout.describe(),
            "attention": self.attention.name,
            "attn_implementation": getattr(self.model.config, "_attn_implementation", None),
        }

    def close(self) -> None:
        device = self.device
        self.model = None
        gc.collect()
        free_cached_memory(device)


class _ExampleProgress:
    """Turns "these texts are scored" into progress(done_examples, total): an example needs all its texts."""

    def __init__(self, sizes: Sequence[int], callback: ProgressCallback | None) -> None:
        self.total = len(sizes)
        self.callback = callback
        self.remaining = list(sizes)
        self.owner = [index for index, size in enumerate(sizes) for _ in range(size)]
        self.done = 0

    def texts_done(self, text_indices: Sequence[int]) -> None:
        finished = []
        for index in text_indices:
            example = self.owner[index]
            self.remaining[example] -= 1
            if self.remaining[example] == 0:
                self.done += 1
                finished.append(example)
        report_examples_done(self.callback, finished)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def for_chunk(self, first_text: int, slot: Sequence[int]) -> Callable[[Sequence[int]], None]:
        """``texts_done`` for a chunk whose text ``i`` is the run's text ``first_text + i`` and is scored as
        the chunk's deduplicated text ``slot[i]``."""
        stands_for: dict[int, list[int]] = {}
        for text, scored in enumerate(slot):
            stands_for.setdefault(scored, []).append(first_text + text)
        return lambda indices: self.texts_done([text for index in indices for text in stands_for[index]])
