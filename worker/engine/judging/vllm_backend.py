"""Greedy generation with vLLM, for judges on a GPU worker where vLLM is installed (``pip install .[vllm]``).

Same prompts and the same token ids as the transformers path (``generation.py``): the chat template's text,
tokenised without added special tokens, handed to vLLM as token ids; temperature 0, one answer per prompt,
``max_new_tokens`` tokens at most, stopping at the model's end-of-sequence tokens. Prompts longer than the
context are not run, as in the transformers path.

This path is not exercised by the test suite, which runs on CPU without vLLM; a GPU worker that has vLLM
uses it unless ``EVAL_GENERATION_BACKEND=transformers``. vLLM batches and schedules by itself, so a
result's verdicts may differ from the transformers path's in near-even cases (different kernels); the
backend is recorded with every result.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from worker.engine.judging.generation import BatchDone, context_length, encode_prompts, end_token_ids
from worker.engine.judging.protocols import Generated, JudgeCall


def vllm_available(device: torch.device) -> bool:
    return device.type == "cuda" and importlib.util.find_spec("vllm") is not None


class VllmGenerator:
    backend = "vllm"

    def __init__(
        self,
        path: Path,
        tokenizer: Any,
        config: Any,
        *,
        dtype: str,
        max_new_tokens: int,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
    ) -> None:
        from vllm import LLM

        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.tensor_parallel_size = tensor_parallel_size
        context = context_length(config, tokenizer)
        limit = min(context, max_model_len) if max_model_len is not None else None
        self.llm = LLM(
            str(path),
            dtype=dtype,
            trust_remote_code=False,
            tokenizer=str(path),
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=limit,
        )
        self.end_ids = end_token_ids(_generation_config(path), tokenizer)
        self.context = limit if limit is not None else context

    def encode(self, calls: Sequence[JudgeCall]) -> list[tuple[int, ...]]:
        return encode_prompts(self.tokenizer, calls)

    def generate(
        self, prompts: Sequence[tuple[int, ...]], on_batch: BatchDone | None = None
    ) -> list[Generated]:
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(
            n=1, temperature=0.0, top_p=1.0, max_tokens=self.max_new_tokens, stop_token_ids=self.end_ids
        )
        limit = self.context - self.max_new_tokens
        runnable = [index for index, prompt in enumerate(prompts) if len(prompt) <= limit]
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=list(prompts[i])) for i in runnable], sampling_params=params
        )
        results = [Generated(None, "not_run") for _ in prompts]
        for index, output in zip(runnable, outputs, strict=True):
            completion = output.outputs[0]
            ended = completion.finish_reason != "length"
            results[index] = Generated(completion.text, "eos" if ended else "length")
        if on_batch is not None:
            on_batch(list(range(len(prompts))))
        return results

    def describe(self) -> dict[str, Any]:
        import vllm

        return {
            "backend": self.backend,
            "vllm": getattr(vllm, "__version__", None),
            "decoding": "greedy (temperature 0), one answer per prompt",
            "max_new_tokens": self.max_new_tokens,
            "tensor_parallel_size": self.tensor_parallel_size,
            "end_token_ids": self.end_ids,
            "context_length": self.context,
            "prompt_tokens": "chat template with generation prompt, tokenised without added special tokens",
        }

    def close(self) -> None:
        self.llm = None


def _generation_config(path: Path) -> Any:
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:  # no generation_config.json
        return None
