"""LLM judges: a causal LM prompted to pick the best answer or to rate each one (see ``judging/``).

The kind gives a planner (example -> prompts and how to read the answers); this adapter renders every prompt
with the model's chat template, generates the answers (identical prompts once), and hands each example's
answers back to its plan, which gives the scores and the detail stored with the example.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from worker.engine.adapters.base import CandidateResult, ProgressCallback, RewardAdapter
from worker.engine.adapters.causal_lm import load_causal_config, load_causal_lm
from worker.engine.adapters.hf_loading import load_tokenizer
from worker.engine.adapters.judge_plans import decide_plans, distinct_prompts
from worker.engine.device import device_name, dtype_name, free_cached_memory, pick_device, pick_dtype
from worker.engine.errors import InvalidSpecError, TokenizerLoadError
from worker.engine.judging.generation import BatchDone, TransformersGenerator
from worker.engine.judging.protocols import Generated, JudgeCall, Plan
from worker.engine.layout import Layout, plan_layout
from worker.engine.model_source import ModelSource, resolve_model
from worker.engine.spec import EvaluationSpec
from worker.engine.token_budget import default_budget
from worker.engine.types import CandidateScores, Example

Planner = Callable[[Example], Plan]
GENERATION_BACKENDS = ("auto", "transformers", "vllm")


class Generator(Protocol):
    backend: str
    context: int  # tokens a prompt and its answer may use together

    def encode(self, calls: Sequence[JudgeCall]) -> list[tuple[int, ...]]: ...

    def generate(
        self, prompts: Sequence[tuple[int, ...]], on_batch: BatchDone | None = None
    ) -> list[Generated]: ...

    def describe(self) -> dict[str, Any]: ...


class JudgeAdapter(RewardAdapter):
    def __init__(
        self,
        source: ModelSource,
        generator: Generator,
        planner: Planner,
        *,
        record: dict[str, Any],
        device: Any,
        dtype: Any,
        architecture: str | None,
        layout: Layout,
        requested_backend: str = "auto",
    ) -> None:
        self.layout = layout
        self.source = source
        self.generator = generator
        self.planner = planner
        self.record = record
        self.device = device
        self.dtype = dtype
        self.architecture = architecture
        self.requested_backend = requested_backend

    @classmethod
    def from_spec(
        cls, spec: EvaluationSpec, planner: Planner, *, max_new_tokens: int, record: dict[str, Any]
    ) -> JudgeAdapter:
        if spec.generation_backend not in GENERATION_BACKENDS:
            raise InvalidSpecError(
                f"unknown generation backend {spec.generation_backend!r}; choose one of "
                f"{', '.join(GENERATION_BACKENDS)}"
            )
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        source = resolve_model(spec.model, spec.revision, spec.cache_dir, allow_local=spec.allow_local_model)
        config = load_causal_config(source.path, spec.model)
        tokenizer = load_tokenizer(source.path, spec.model)
        if not getattr(tokenizer, "chat_template", None):
            raise TokenizerLoadError(
                f"{spec.model}: the tokenizer has no chat template; a judge is prompted through its template"
            )
        generator: Generator
        if _use_vllm(spec, device):
            from transformers import AutoModelForCausalLM

            from worker.engine.judging.vllm_backend import VllmGenerator

            # vLLM splits the weights itself (tensor parallel): as many GPUs as a device map would use.
            layout = plan_layout(AutoModelForCausalLM, config, dtype, device, spec.shards)
            generator = VllmGenerator(
                source.path,
                tokenizer,
                config,
                dtype=dtype_name(dtype),
                max_new_tokens=max_new_tokens,
                tensor_parallel_size=len(layout.places),
                max_model_len=spec.max_length,
            )
            architecture = None
        else:
            model, layout = load_causal_lm(source.path, spec.model, config, dtype, device, spec.shards)
            budget = spec.batch_tokens or default_budget(device, config, dtype).tokens
            generator = TransformersGenerator(
                model, tokenizer, device=device, batch_tokens=budget, max_new_tokens=max_new_tokens
            )
            architecture = type(model).__name__
        if spec.max_length is not None:  # prompt and answer within it, else the example is not run
            generator.context = min(generator.context, spec.max_length)
        return cls(
            source,
            generator,
            planner,
            record=record,
            device=device,
            dtype=dtype,
            architecture=architecture,
            layout=layout,
            requested_backend=spec.generation_backend,
        )

    @property
    def chat_template(self) -> str:
        return "tokenizer"

    def score_examples(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateScores]:
        return [result.scores for result in self.score_with_detail(examples, progress)]

    def score_with_detail(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateResult]:
        plans = [self.planner(example) for example in examples]
        calls = [call for plan in plans for call in plan.calls]
        encoded = self.generator.encode(calls)
        prompts, slots = distinct_prompts(encoded)
        owners: list[int] = [index for index, plan in enumerate(plans) for _ in plan.calls]
        tracker = _CallProgress(plans, owners, slots, progress)
        answers = self.generator.generate(prompts, tracker.done)
        results = decide_plans(plans, slots, answers)
        tracker.finish()
        return results

    def describe(self) -> dict[str, Any]:
        return {
            **self.source.describe(),
            "architecture": self.architecture,
            **self.layout.describe(),
            "dtype": dtype_name(self.dtype),
            "device": str(self.device),
            "device_name": device_name(self.device),
            "chat_template": "tokenizer",
            "generation": {**self.generator.describe(), "requested_backend": self.requested_backend},
            "judge": self.record,
        }

    def close(self) -> None:
        close = getattr(self.generator, "close", None)
        if close is not None:
            close()
        self.generator.model = None  # type: ignore[attr-defined]
        gc.collect()
        free_cached_memory(self.device)


def _use_vllm(spec: EvaluationSpec, device: Any) -> bool:
    from worker.engine.judging.vllm_backend import use_vllm

    return use_vllm(spec.generation_backend, device)


class _CallProgress:
    """Generated prompts reported as examples: an example is done once all its prompts are answered."""

    def __init__(
        self,
        plans: Sequence[Plan],
        owners: Sequence[int],
        slots: Sequence[int],
        callback: ProgressCallback | None,
    ) -> None:
        self.callback = callback
        self.total = len(plans)
        self.remaining = [len(plan.calls) for plan in plans]
        self.by_prompt: dict[int, list[int]] = {}
        for call, prompt in enumerate(slots):
            self.by_prompt.setdefault(prompt, []).append(owners[call])
        self.done_examples = sum(1 for count in self.remaining if count == 0)

    def done(self, prompts: Sequence[int]) -> None:
        for prompt in prompts:
            for example in self.by_prompt.pop(prompt, []):
                self.remaining[example] -= 1
                if self.remaining[example] == 0:
                    self.done_examples += 1
        if self.callback is not None:
            self.callback(self.done_examples, self.total)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.total, self.total)
