"""Greedy text generation for judges with transformers: batched, left-padded, token-budgeted.

Prompts are the chat template's text with the generation prompt, tokenised without special tokens (the
template holds them; upstream's vLLM path tokenises that text again with special tokens, which can double a
leading BOS). Batches are planned by ``prompt + max_new_tokens`` tokens, longest first, within the token
budget; an out-of-memory error halves the budget and re-plans, as the classifier path does. A prompt whose
tokens and ``max_new_tokens`` exceed the model's context is not run (the judge gave no answer). Decoding is
greedy (no sampling, one beam); an answer ends at any of the model's end-of-sequence tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import torch

from worker.engine.batching import plan_batches
from worker.engine.device import free_cached_memory
from worker.engine.errors import InvalidSpecError, OutOfMemoryError, TokenizerLoadError
from worker.engine.hub_errors import first_line
from worker.engine.judging.protocols import Generated, JudgeCall

# Context length assumed when neither the config nor the tokenizer gives one.
DEFAULT_CONTEXT: Final = 4096
BatchDone = Callable[[Sequence[int]], None]


def render_prompt(tokenizer: Any, call: JudgeCall) -> str:
    messages = [{"role": "system", "content": call.system}] if call.system is not None else []
    messages.append({"role": "user", "content": call.user})
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # templates raise their own errors (e.g. no system role)
        raise TokenizerLoadError(f"the chat template failed on a judge prompt ({first_line(exc)})") from None
    if not isinstance(text, str):
        raise TokenizerLoadError(f"the chat template rendered {type(text).__name__}, not text")
    return text


def encode_prompts(tokenizer: Any, calls: Sequence[JudgeCall]) -> list[tuple[int, ...]]:
    """The token ids of each call's rendered prompt, unpadded; the template supplies any BOS."""
    texts = [render_prompt(tokenizer, call) for call in calls]
    batch = tokenizer(texts, add_special_tokens=False, padding=False)
    return [tuple(ids) for ids in batch["input_ids"]]


def decode_answer(tokenizer: Any, tokens: Sequence[int], end_ids: Sequence[int]) -> Generated:
    """An answer from the tokens generated after the prompt: cut at the first end token (which ends it, else
    it ran out of tokens), decoded without special tokens. Both generation backends read answers with it."""
    end = next((i for i, token in enumerate(tokens) if token in end_ids), None)
    kept = tuple(int(token) for token in (tokens if end is None else tokens[:end]))
    text = tokenizer.decode(list(kept), skip_special_tokens=True)
    return Generated(text, "length" if end is None else "eos", kept)


def end_token_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """Every id that ends an answer: the model's generation config's and the tokenizer's EOS."""
    ids: set[int] = set()
    configured = getattr(generation_config, "eos_token_id", None)
    for value in configured if isinstance(configured, list) else [configured]:
        if value is not None:
            ids.add(int(value))
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if not ids:
        raise TokenizerLoadError("the judge has no end-of-sequence token, so its answers would never end")
    return sorted(ids)


def context_length(config: Any, tokenizer: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else DEFAULT_CONTEXT


class TransformersGenerator:
    backend = "transformers"

    def __init__(
        self, model: Any, tokenizer: Any, *, device: torch.device, batch_tokens: int, max_new_tokens: int
    ) -> None:
        if batch_tokens < 1 or max_new_tokens < 1:
            raise InvalidSpecError("batch_tokens and max_new_tokens must be positive")
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.batch_tokens = batch_tokens
        self.max_new_tokens = max_new_tokens
        self.end_ids = end_token_ids(getattr(model, "generation_config", None), tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.end_ids[0]
        self.pad_id = int(pad)
        self.context = context_length(model.config, tokenizer)

    def encode(self, calls: Sequence[JudgeCall]) -> list[tuple[int, ...]]:
        return encode_prompts(self.tokenizer, calls)

    def generate(
        self, prompts: Sequence[tuple[int, ...]], on_batch: BatchDone | None = None
    ) -> list[Generated]:
        """One answer per prompt, in order; prompts too long for the context are not run."""
        results: list[Generated | None] = [None] * len(prompts)
        runnable = []
        for index, prompt in enumerate(prompts):
            if len(prompt) + self.max_new_tokens > self.context:
                results[index] = Generated(None, "not_run")
            else:
                runnable.append(index)
        if len(runnable) < len(prompts) and on_batch is not None:
            on_batch([index for index, result in enumerate(results) if result is not None])
        lengths = [len(prompt) + self.max_new_tokens for prompt in prompts]
        budget = self.batch_tokens
        pending = plan_batches(lengths, budget, order=runnable)
        while pending:
            batch = pending.pop(0)
            try:
                answers = self._generate([prompts[index] for index in batch])
            except torch.OutOfMemoryError:
                free_cached_memory(self.device)
                if len(batch) == 1:
                    raise OutOfMemoryError(
                        f"out of device memory generating one answer to a {len(prompts[batch[0]])}-token "
                        "prompt; lower max_new_tokens or use a larger device"
                    ) from None
                budget = max(1, min(budget, len(batch) * max(lengths[i] for i in batch)) // 2)
                remaining = [index for group in [batch, *pending] for index in group]
                pending = plan_batches(lengths, budget, order=remaining)
                continue
            for index, answer in zip(batch, answers, strict=True):
                results[index] = answer
            if on_batch is not None:
                on_batch(batch)
        return [result if result is not None else Generated(None, "not_run") for result in results]

    @torch.inference_mode()
    def _generate(self, prompts: Sequence[tuple[int, ...]]) -> list[Generated]:
        from transformers import GenerationConfig

        width = max(len(prompt) for prompt in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=self.end_ids,
        )
        output = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            generation_config=config,
        )
        return [decode_answer(self.tokenizer, row, self.end_ids) for row in output[:, width:].cpu().tolist()]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "decoding": "greedy (no sampling, one beam), one answer per prompt",
            "max_new_tokens": self.max_new_tokens,
            "end_token_ids": self.end_ids,
            "context_length": self.context,
            "padding": "left",
            "batch_tokens": self.batch_tokens,
            "prompt_tokens": "chat template with generation prompt, tokenised without added special tokens",
        }
