"""Run one evaluation: data, adapter, candidate scores, decisions, subset values, reproducibility."""

from __future__ import annotations

import errno
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.engine.adapters.base import CandidateResult
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import Benchmark, LoadedDataset, TiePolicy, UnknownScoringVersionError
from worker.engine.dataset import fingerprint, load_dataset, select_examples
from worker.engine.errors import DiskFullError, InvalidModelError, InvalidSpecError
from worker.engine.kinds import KINDS, get_kind
from worker.engine.model_kinds.base import KindSettings, ModelKind
from worker.engine.provenance import code_version, library_versions
from worker.engine.results import BenchmarkResult
from worker.engine.spec import EvaluationSpec
from worker.engine.types import CandidateScores, Example, ScoredExample

__all__ = ["EvaluationOutput", "EvaluationSpec", "decide_examples", "run_evaluation"]


@dataclass
class EvaluationOutput:
    result: BenchmarkResult  # reproducibility filled
    scored: list[ScoredExample]  # one per evaluated example, in dataset order
    examples: list[Example]  # the evaluated examples


def run_evaluation(
    spec: EvaluationSpec,
    progress: Callable[[int, int], None] | None = None,
    *,
    on_subset: Callable[[str], None] | None = None,
) -> EvaluationOutput:
    """Evaluate ``spec.model`` on ``spec.benchmark``. The data is loaded and checked before the model.

    ``progress(done, total)`` counts examples with all their scores; ``on_subset(name)`` is called when the
    examples being scored come mostly from another subset (adapters that report finished examples only).
    """
    try:
        return _run(spec, progress if on_subset is None else _SubsetProgress(progress, on_subset))
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise DiskFullError("The worker ran out of disk space while loading the model or data") from error


def decide_examples(
    benchmark: Benchmark,
    examples: Sequence[Example],
    scores: Sequence[CandidateScores | CandidateResult],
    tie_policy: TiePolicy,
) -> list[ScoredExample]:
    """The benchmark's decision on every example from its candidates' scores (details carried along)."""
    scored = []
    for example, item in zip(examples, scores, strict=True):
        if isinstance(item, CandidateResult):
            example_scores, detail = item.scores, item.detail
        else:
            example_scores, detail = item, None
        if len(example_scores) != len(example.candidates) or any(s is None for s in example_scores):
            raise InvalidModelError(f"the model gave no score to a candidate of example {example.key}")
        values = [float(score) for score in example_scores if score is not None]
        outcome = benchmark.decide(example.subset, values, example.num_correct, tie_policy)
        scored.append(
            ScoredExample(example.subset, example.id, tuple(values), example.num_correct, outcome, detail)
        )
    return scored


def _run(spec: EvaluationSpec, progress: Callable[[int, int], None] | None) -> EvaluationOutput:
    started = time.monotonic()
    benchmark = get_benchmark(spec.benchmark)
    try:
        scoring_version = benchmark.scoring_version(spec.scoring_version).name
    except UnknownScoringVersionError as exc:
        raise InvalidSpecError(str(exc)) from None
    kind = get_kind(spec.model_type)
    if not kind.evaluable:
        kinds = ", ".join(key for key, entry in KINDS.items() if entry.evaluable)
        raise InvalidSpecError(f"{kind.label} models cannot be evaluated here yet; evaluable: {kinds}")
    settings = kind.parse_settings(spec.kind_settings)
    dataset = load_dataset(benchmark, spec.dataset, extra_parts=dict(spec.extra_parts))
    examples = select_examples(
        benchmark,
        dataset.examples,
        subsets=spec.subsets,
        limit_per_subset=spec.limit_per_subset,
        seed=spec.seed,
    )
    if isinstance(progress, _SubsetProgress):
        progress.examples = examples
    with kind.build_adapter(spec, benchmark, settings) as adapter:
        loaded = time.monotonic()
        scores = adapter.score_with_detail(examples, progress)
        scored_at = time.monotonic()
        adapter_record = adapter.describe()
        template = adapter.chat_template
    scored = decide_examples(benchmark, examples, scores, kind.tie_policy)
    timings = {"total": time.monotonic() - started, "load": loaded - started, "score": scored_at - loaded}
    record = _reproducibility(spec, benchmark, dataset, examples, adapter_record, timings)
    record.update(_kind_record(kind, settings, scored))
    result = BenchmarkResult(
        model=spec.model,
        model_type=kind.key,
        chat_template=template,
        benchmark=benchmark.id,
        subset_scores=benchmark.subset_scores(scored, scoring_version),
        scoring_version=scoring_version,
        reproducibility=record,
        extra=kind.results_fields(settings),
    )
    return EvaluationOutput(result=result, scored=scored, examples=examples)


def _kind_record(kind: ModelKind, settings: KindSettings, scored: Sequence[ScoredExample]) -> dict[str, Any]:
    record: dict[str, Any] = {"kind_settings": kind.describe_settings(settings)}
    diagnostics = kind.diagnostics(scored)
    if diagnostics is not None:
        record["diagnostics"] = diagnostics
    return record


class _SubsetProgress:
    """The adapter's progress callback; also names the subset most of the examples just scored are from."""

    def __init__(self, progress: Callable[[int, int], None] | None, on_subset: Callable[[str], None]) -> None:
        self.progress = progress
        self.on_subset = on_subset
        self.examples: Sequence[Example] = ()
        self.current: str | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def examples_done(self, indices: Sequence[int]) -> None:
        subsets = Counter(self.examples[index].subset for index in indices if index < len(self.examples))
        if not subsets:
            return
        subset = subsets.most_common(1)[0][0]
        if subset != self.current:
            self.current = subset
            self.on_subset(subset)


def _reproducibility(
    spec: EvaluationSpec,
    benchmark: Benchmark,
    dataset: LoadedDataset,
    examples: list[Example],
    adapter_record: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Everything needed to rerun this evaluation and get the same decisions."""
    return {
        **adapter_record,
        "adapter": spec.model_type,
        "benchmark": benchmark.id,
        "dataset": {
            **dataset.describe(),
            "subsets": list(spec.subsets) if spec.subsets is not None else None,
            "limit_per_subset": spec.limit_per_subset,
            "seed": spec.seed,
            "examples_evaluated": len(examples),
            "selection_fingerprint": fingerprint(benchmark, examples),
        },
        "libraries": library_versions(),
        "code": code_version(),
        "wall_time_s": {name: round(seconds, 3) for name, seconds in timings.items()},
    }
