"""The results file: per-subset accuracies in the upstream eval-set format plus this project's fields.

``results.json`` = ``{model, model_type, chat_template, <subset>: accuracy, ..., sections, score, counts,
scoring_version, benchmark, reproducibility}``. Files written by the upstream scripts carry only the first
part; ``parse_results`` reads both and never trusts sections or a score found in the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.engine.benchmark import BENCHMARK_V1, SUBSETS
from worker.engine.scoring import CURRENT_SCORING_VERSION, Aggregate, SubsetTally, aggregate


class ResultsFormatError(ValueError):
    pass


@dataclass(slots=True)
class EvaluationResult:
    model: str
    model_type: str
    chat_template: str
    accuracies: dict[str, float]
    counts: dict[str, SubsetTally] = field(default_factory=dict)
    scoring_version: str = CURRENT_SCORING_VERSION
    benchmark: str = BENCHMARK_V1
    reproducibility: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def aggregate(self) -> Aggregate:
        return aggregate(self.accuracies, self.scoring_version)

    def to_json(self) -> dict[str, Any]:
        agg = self.aggregate()
        document: dict[str, Any] = {
            "model": self.model,
            "model_type": self.model_type,
            "chat_template": self.chat_template,
            **self.extra,
        }
        document.update({name: self.accuracies[name] for name in SUBSETS if name in self.accuracies})
        document["sections"] = agg.sections
        document["score"] = agg.score
        document["counts"] = {
            name: {"n": tally.n, "correct": tally.correct} for name, tally in self.counts.items()
        }
        document["scoring_version"] = agg.scoring_version
        document["benchmark"] = self.benchmark
        document["reproducibility"] = self.reproducibility
        return document


_PROJECT_KEYS = {"sections", "score", "counts", "scoring_version", "benchmark", "reproducibility"}
_HEADER_KEYS = {"model", "model_type", "chat_template"}


def parse_results(document: Mapping[str, Any], *, source: str = "results") -> EvaluationResult:
    """Read an upstream eval-set file or this project's results.json; say exactly what is wrong if neither."""
    if not isinstance(document, Mapping):
        raise ResultsFormatError(f"{source}: expected a JSON object, found {type(document).__name__}")
    model = document.get("model")
    if not isinstance(model, str) or not model:
        raise ResultsFormatError(f"{source}: missing the 'model' field (a Hub id such as org/name)")
    accuracies: dict[str, float] = {}
    extra: dict[str, Any] = {}
    for key, value in document.items():
        if key in SUBSETS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ResultsFormatError(f"{source}: subset {key!r} has a non-numeric accuracy {value!r}")
            if not 0.0 <= float(value) <= 1.0:
                raise ResultsFormatError(f"{source}: subset {key!r} accuracy {value} is outside [0, 1]")
            accuracies[key] = float(value)
        elif key not in _PROJECT_KEYS and key not in _HEADER_KEYS:
            extra[key] = value
    if not accuracies:
        raise ResultsFormatError(f"{source}: no RewardBench v1 subset accuracies found")
    counts: dict[str, SubsetTally] = {}
    for name, entry in (document.get("counts") or {}).items():
        if name in SUBSETS and isinstance(entry, Mapping):
            counts[name] = SubsetTally(name, int(entry.get("n", 0)), float(entry.get("correct", 0.0)))
    scoring_version = document.get("scoring_version") or CURRENT_SCORING_VERSION
    reproducibility = document.get("reproducibility") or {}
    return EvaluationResult(
        model=model,
        model_type=str(document.get("model_type") or "Seq. Classifier"),
        chat_template=str(document.get("chat_template") or ""),
        accuracies=accuracies,
        counts=counts,
        scoring_version=str(scoring_version),
        benchmark=str(document.get("benchmark") or BENCHMARK_V1),
        reproducibility=dict(reproducibility) if isinstance(reproducibility, Mapping) else {},
        extra=extra,
    )


def load_results_file(path: Path) -> EvaluationResult:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFormatError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_results(document, source=str(path))
