"""Write the results file and the per-example file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from worker.engine.benchmarks.base import Benchmark
from worker.engine.results import BenchmarkResult
from worker.engine.types import ScoredExample


def write_results(result: BenchmarkResult, path: Path) -> None:
    _write_text(path, json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")


def per_example_line(benchmark: Benchmark, example: ScoredExample) -> dict[str, Any]:
    """One line of the per-example file: subset, id, scores (one per candidate), num_correct, outcome.

    Where every example has two named candidates (RewardBench v1) the line also carries upstream's
    ``score_chosen`` / ``score_rejected`` and ``correct``, so upstream-format readers keep working.
    """
    line: dict[str, Any] = {
        "subset": example.subset,
        "id": example.id,
        "scores": list(example.scores),
        "num_correct": example.num_correct,
        "outcome": example.outcome,
    }
    if example.detail:
        line["detail"] = dict(example.detail)
    if len(benchmark.candidate_labels) == 2 and len(example.scores) == 2:
        line["score_chosen"], line["score_rejected"] = example.scores
        line["correct"] = example.correct
    return line


def write_per_example(benchmark: Benchmark, scored: Iterable[ScoredExample], path: Path) -> None:
    lines = (json.dumps(per_example_line(benchmark, example), ensure_ascii=False) for example in scored)
    _write_text(path, "".join(line + "\n" for line in lines))


def _write_text(path: Path, text: str) -> None:
    # Write next to the target, then rename: a crash never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
