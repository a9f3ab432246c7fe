"""Write the results file and the per-example file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from worker.engine.results import EvaluationResult
from worker.engine.types import PairScore


def write_results(result: EvaluationResult, path: Path) -> None:
    _write_text(path, json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")


def write_per_example(pair_scores: Iterable[PairScore], path: Path) -> None:
    """One JSON object a line: subset, id, score_chosen, score_rejected, correct."""
    lines = (
        json.dumps(
            {
                "subset": score.subset,
                "id": score.id,
                "score_chosen": score.score_chosen,
                "score_rejected": score.score_rejected,
                "correct": score.correct,
            },
            ensure_ascii=False,
        )
        for score in pair_scores
    )
    _write_text(path, "".join(line + "\n" for line in lines))


def _write_text(path: Path, text: str) -> None:
    # Write next to the target, then rename: a crash never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
