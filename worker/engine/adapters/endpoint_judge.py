"""LLM judges whose model is served by an endpoint (``judging/endpoints.py``): the same plans, prompts and
verdict reading as the in-process judge (``judge.py``), the answers from the endpoint.

The endpoint is looked up on the worker's registry by the name the submission pinned, with the served model
the submission was checked against: a registry that now serves another model under that name stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from worker.engine.adapters.base import (
    CandidateResult,
    ProgressCallback,
    RewardAdapter,
    report_examples_done,
)
from worker.engine.adapters.judge_plans import decide_plans, distinct_prompts
from worker.engine.judging.endpoint_backend import EndpointGenerator, load_judge_tokenizer
from worker.engine.judging.endpoints import (
    Endpoint,
    EndpointConfigError,
    EndpointSources,
    load_registry,
    make_client,
)
from worker.engine.judging.protocols import Plan
from worker.engine.spec import EvaluationSpec
from worker.engine.types import CandidateScores, Example

Planner = Callable[[Example], Plan]


class EndpointJudgeAdapter(RewardAdapter):
    def __init__(
        self, endpoint: Endpoint, generator: EndpointGenerator, planner: Planner, *, record: dict[str, Any]
    ) -> None:
        self.endpoint = endpoint
        self.generator = generator
        self.planner = planner
        self.record = record

    @classmethod
    def from_spec(
        cls,
        spec: EvaluationSpec,
        planner: Planner,
        *,
        endpoint_name: str,
        served_model: str | None,
        max_new_tokens: int,
        seed: int,
        record: dict[str, Any],
    ) -> EndpointJudgeAdapter:
        registry = load_registry(spec.endpoints or EndpointSources.from_environment())
        endpoint = registry.get(endpoint_name)
        if served_model is not None and endpoint.model != served_model:
            raise EndpointConfigError(
                f"judge endpoint {endpoint_name!r} now serves {endpoint.model!r}; this submission was "
                f"checked against {served_model!r}. Submit it again for the model the endpoint serves now"
            )
        tokenizer: Any | None = None
        end_ids: list[int] = []
        context: int | None = None
        if endpoint.api == "completions":
            tokenizer, end_ids, context = load_judge_tokenizer(endpoint, spec.cache_dir)
            if spec.max_length is not None:  # prompt and answer within it, else the example is not run
                context = min(context, spec.max_length)
        generator = EndpointGenerator(
            endpoint,
            make_client(endpoint),
            max_new_tokens=max_new_tokens,
            seed=seed,
            tokenizer=tokenizer,
            end_ids=end_ids,
            context=context,
        )
        return cls(endpoint, generator, planner, record=record)

    @property
    def chat_template(self) -> str:
        return "tokenizer" if self.endpoint.api == "completions" else "endpoint"

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
        tracker = _Progress(plans, slots, progress)
        answers = self.generator.generate(prompts, tracker.prompts_done)
        results = decide_plans(plans, slots, answers)
        if progress is not None:
            progress(len(plans), len(plans))
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.endpoint.model_id,
            "device": "endpoint",
            "chat_template": self.chat_template,
            "generation": self.generator.describe(),
            "judge": self.record,
        }

    def close(self) -> None:
        self.generator.close()


class _Progress:
    """Answered prompts reported as examples: an example is done once all its prompts are answered."""

    def __init__(
        self, plans: Sequence[Plan], slots: Sequence[int], callback: ProgressCallback | None
    ) -> None:
        self.callback = callback
        self.total = len(plans)
        self.remaining = [len(plan.calls) for plan in plans]
        self.owners: dict[int, list[int]] = {}
        call = 0
        for example, plan in enumerate(plans):
            for _ in plan.calls:
                self.owners.setdefault(slots[call], []).append(example)
                call += 1
        self.done = sum(1 for count in self.remaining if count == 0)

    def prompts_done(self, prompts: Sequence[int]) -> None:
        finished = []
        for prompt in prompts:
            for example in self.owners.pop(prompt, []):
                self.remaining[example] -= 1
                if self.remaining[example] == 0:
                    finished.append(example)
        self.done += len(finished)
        if self.callback is not None:
            report_examples_done(self.callback, finished)
            self.callback(self.done, self.total)
