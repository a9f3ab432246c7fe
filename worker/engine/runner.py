"""Run one evaluation: data, adapter, scores, per-subset accuracies and the reproducibility record."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.engine.adapters.registry import build_adapter
from worker.engine.dataset import LoadedDataset, fingerprint, load_dataset, select_pairs
from worker.engine.errors import DiskFullError
from worker.engine.provenance import code_version, library_versions
from worker.engine.results import EvaluationResult
from worker.engine.scoring import tally_subsets
from worker.engine.spec import EvaluationSpec
from worker.engine.types import PairScore, PreferencePair

__all__ = ["EvaluationOutput", "EvaluationSpec", "run_evaluation"]


@dataclass
class EvaluationOutput:
    result: EvaluationResult  # reproducibility filled
    pair_scores: list[PairScore]
    pairs: list[PreferencePair]


def run_evaluation(
    spec: EvaluationSpec, progress: Callable[[int, int], None] | None = None
) -> EvaluationOutput:
    """Evaluate ``spec.model`` on RewardBench v1. The data is loaded and checked before the model."""
    try:
        return _run(spec, progress)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise DiskFullError(
            "The worker ran out of disk space while loading the model or data"
        ) from error


def _run(spec: EvaluationSpec, progress: Callable[[int, int], None] | None) -> EvaluationOutput:
    started = time.monotonic()
    dataset = load_dataset(spec.dataset)
    pairs = select_pairs(
        dataset.pairs, subsets=spec.subsets, limit_per_subset=spec.limit_per_subset, seed=spec.seed
    )
    with build_adapter(spec) as adapter:
        loaded = time.monotonic()
        pair_scores = adapter.score_pairs(pairs, progress)
        scored = time.monotonic()
        adapter_record = adapter.describe()
        model_type, template = adapter.model_type_label, adapter.chat_template
    tallies = tally_subsets((score.subset, score.result) for score in pair_scores)
    timings = {"total": time.monotonic() - started, "load": loaded - started, "score": scored - loaded}
    result = EvaluationResult(
        model=spec.model,
        model_type=model_type,
        chat_template=template,
        accuracies={name: tally.accuracy for name, tally in tallies.items()},
        counts=tallies,
        reproducibility=_reproducibility(spec, dataset, pairs, adapter_record, timings),
    )
    return EvaluationOutput(result=result, pair_scores=pair_scores, pairs=pairs)


def _reproducibility(
    spec: EvaluationSpec,
    dataset: LoadedDataset,
    pairs: list[PreferencePair],
    adapter_record: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Everything needed to rerun this evaluation and get the same decisions."""
    return {
        **adapter_record,
        "adapter": spec.model_type,
        "reference_model": spec.reference_model,
        "dataset": {
            **dataset.describe(),
            "subsets": list(spec.subsets) if spec.subsets is not None else None,
            "limit_per_subset": spec.limit_per_subset,
            "seed": spec.seed,
            "pairs_evaluated": len(pairs),
            "selection_fingerprint": fingerprint(pairs),
        },
        "libraries": library_versions(),
        "code": code_version(),
        "wall_time_s": {name: round(seconds, 3) for name, seconds in timings.items()},
    }
