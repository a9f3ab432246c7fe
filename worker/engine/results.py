"""The results file: per-subset values in the upstream eval-set format plus this project's fields.

``results.json`` = ``{model, model_type, chat_template, <subset>: value, ..., sections, score, counts,
scoring_version, benchmark, reproducibility}``. As in upstream's files, ``model_type`` there is the kind's
label ("Seq. Classifier", "DPO"...); in memory ``BenchmarkResult.model_type`` is the kind registry key.
Files written by the upstream scripts carry only the first part; ``parse_results`` reads both, finds the
benchmark from the subset names when the file does not say, and never trusts sections or a score found in
the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.engine.benchmarks import BENCHMARKS, UnknownBenchmarkError, get_benchmark
from worker.engine.benchmarks.base import (
    Aggregate,
    Benchmark,
    IncompatibleScoringVersionError,
    Subset,
    SubsetScore,
    UnknownScoringVersionError,
)
from worker.engine.kinds import get_kind, kind_for_label


class ResultsFormatError(ValueError):
    pass


@dataclass(slots=True)
class BenchmarkResult:
    """One model's values on one benchmark: per subset, with what the run recorded to reproduce it."""

    model: str
    model_type: str
    chat_template: str
    benchmark: str
    subset_scores: dict[str, SubsetScore]
    scoring_version: str = ""
    reproducibility: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scoring_version:
            self.scoring_version = self.definition.current_scoring_version

    @property
    def definition(self) -> Benchmark:
        return get_benchmark(self.benchmark)

    @property
    def values(self) -> dict[str, float]:
        return {name: score.value for name, score in self.subset_scores.items()}

    def aggregate(self, scoring_version: str | None = None) -> Aggregate:
        """Sections and Score under ``scoring_version`` (default: the one the values were computed under).

        A version that computes subset values differently (RewardBench 2's two Ties rules) is refused: the
        values here are the old rule's, and only the per-example scores can give the new one's.
        """
        definition = self.definition
        own = definition.scoring_version(self.scoring_version)
        asked = definition.scoring_version(scoring_version or self.scoring_version)
        if asked.subset_rule != own.subset_rule:
            raise IncompatibleScoringVersionError(
                f"{self.model}: its subset values follow {own.name} ({own.subset_rule}); {asked.name} "
                f"computes them differently ({asked.subset_rule}), which needs the per-example scores"
            )
        return definition.aggregate(self.values, asked.name)

    def covers_benchmark(self) -> bool:
        """Every subset of the benchmark's core data is present, with all its rows where counts are known."""
        for subset in self.definition.required_subsets(("core",)):
            score = self.subset_scores.get(subset.name)
            if score is None or (score.n is not None and score.n != subset.rows):
                return False
        dataset = self.reproducibility.get("dataset")
        partial = isinstance(dataset, Mapping) and bool(
            dataset.get("subsets") or dataset.get("limit_per_subset") or dataset.get("complete") is False
        )
        return not partial

    def to_json(self) -> dict[str, Any]:
        agg = self.aggregate()
        document: dict[str, Any] = {
            "model": self.model,
            "model_type": get_kind(self.model_type).label,
            "chat_template": self.chat_template,
            **self.extra,
        }
        document.update(
            {
                subset.name: self.subset_scores[subset.name].value
                for subset in self.definition.subsets
                if subset.name in self.subset_scores
            }
        )
        document["sections"] = agg.sections
        document["score"] = agg.score
        document["counts"] = {
            name: {"n": score.n, "correct": score.correct} for name, score in self.subset_scores.items()
        }
        document["scoring_version"] = agg.scoring_version
        document["benchmark"] = self.benchmark
        document["reproducibility"] = self.reproducibility
        return document


_PROJECT_KEYS = {"sections", "score", "counts", "scoring_version", "benchmark", "reproducibility"}
_HEADER_KEYS = {"model", "model_type", "chat_template"}


def parse_results(document: Mapping[str, Any], *, source: str = "results") -> BenchmarkResult:
    """Read an upstream eval-set file or this project's results.json; say exactly what is wrong if neither."""
    if not isinstance(document, Mapping):
        raise ResultsFormatError(f"{source}: expected a JSON object, found {type(document).__name__}")
    model = document.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ResultsFormatError(f"{source}: missing the 'model' field (a Hub id such as org/name)")
    benchmark = _benchmark_of(document, source)
    kind = _kind_of(document, source)
    values: dict[str, float] = {}
    extra: dict[str, Any] = {}
    for key, value in document.items():
        subset = benchmark.subset(key)
        if subset is not None:
            values[key] = _subset_value(subset, value, source)
        elif key not in _PROJECT_KEYS and key not in _HEADER_KEYS:
            extra[key] = value
    if not values:
        raise ResultsFormatError(f"{source}: no {benchmark.label} subset values found")
    counts = _counts(document.get("counts"), benchmark, source)
    scoring_version = document.get("scoring_version") or benchmark.current_scoring_version
    if not isinstance(scoring_version, str):
        raise ResultsFormatError(f"{source}: 'scoring_version' must be a string")
    try:
        benchmark.scoring_version(scoring_version)
    except UnknownScoringVersionError as exc:
        raise ResultsFormatError(f"{source}: {exc}") from None
    reproducibility = document.get("reproducibility") or {}
    subset_scores = {
        name: SubsetScore(name, *counts.get(name, (None, None)), value) for name, value in values.items()
    }
    _check_counts_agree(subset_scores, source)
    return BenchmarkResult(
        model=model.strip(),
        model_type=kind,
        chat_template=str(document.get("chat_template") or ""),
        benchmark=benchmark.id,
        subset_scores=subset_scores,
        scoring_version=scoring_version,
        reproducibility=dict(reproducibility) if isinstance(reproducibility, Mapping) else {},
        extra=extra,
    )


def load_results_file(path: Path) -> BenchmarkResult:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFormatError(f"{path.name}: no such file") from None
    except IsADirectoryError:
        raise ResultsFormatError(f"{path.name}: is a directory, not a results file") from None
    except UnicodeDecodeError:
        raise ResultsFormatError(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise ResultsFormatError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    return parse_results(document, source=path.name)


def _benchmark_of(document: Mapping[str, Any], source: str) -> Benchmark:
    named = document.get("benchmark")
    if named is not None:
        if not isinstance(named, str):
            raise ResultsFormatError(f"{source}: 'benchmark' must be a string")
        try:
            return get_benchmark(named)
        except UnknownBenchmarkError as exc:
            raise ResultsFormatError(f"{source}: {exc.message}") from None
    matches = {
        benchmark: sum(1 for key in document if benchmark.subset(key) is not None)
        for benchmark in BENCHMARKS.values()
    }
    best = max(matches, key=lambda benchmark: matches[benchmark])
    if matches[best] == 0:
        names = ", ".join(benchmark.label for benchmark in BENCHMARKS.values())
        raise ResultsFormatError(f"{source}: no subset values of any known benchmark ({names})")
    return best


def _kind_of(document: Mapping[str, Any], source: str) -> str:
    label = document.get("model_type")
    if label is None:
        return "classifier"
    kind = kind_for_label(label) if isinstance(label, str) else None
    if kind is None:
        raise ResultsFormatError(f"{source}: unknown model type {label!r}")
    return kind.key


# Float sums such as Ties' 0.3 + 0.3 + 0.2 + 0.2 + 0.01 may land a rounding error past a bound.
_RANGE_SLACK = 1e-9


def _subset_value(subset: Subset, value: object, source: str) -> float:
    name = subset.name
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultsFormatError(f"{source}: subset {name!r} has a non-numeric value {value!r}")
    low, high = subset.value_range
    if not math.isfinite(value) or not low - _RANGE_SLACK <= float(value) <= high + _RANGE_SLACK:
        raise ResultsFormatError(f"{source}: subset {name!r} value {value} is outside [{low:g}, {high:g}]")
    return float(value)


def _counts(
    document: object, benchmark: Benchmark, source: str
) -> dict[str, tuple[int | None, float | None]]:
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ResultsFormatError(f"{source}: 'counts' must be an object of {{subset: {{n, correct}}}}")
    counts: dict[str, tuple[int | None, float | None]] = {}
    for name, entry in document.items():
        subset = benchmark.subset(name)
        if subset is None:
            raise ResultsFormatError(f"{source}: 'counts' names unknown subset {name!r}")
        if not isinstance(entry, Mapping):
            raise ResultsFormatError(f"{source}: counts of {name!r} must be an object with n and correct")
        n, correct = entry.get("n"), entry.get("correct")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= subset.rows:
            raise ResultsFormatError(
                f"{source}: counts of {name!r}: n must be a whole number from 1 to {subset.rows}, found {n!r}"
            )
        if correct is not None and (
            isinstance(correct, bool)
            or not isinstance(correct, int | float)
            or not math.isfinite(correct)
            or not 0 <= correct <= n
        ):
            raise ResultsFormatError(
                f"{source}: counts of {name!r}: correct must be a number from 0 to n ({n}), found {correct!r}"
            )
        counts[name] = (n, None if correct is None else float(correct))
    return counts


def _check_counts_agree(subset_scores: Mapping[str, SubsetScore], source: str) -> None:
    for score in subset_scores.values():
        if score.n and score.correct is not None and abs(score.correct / score.n - score.value) > 1e-6:
            raise ResultsFormatError(
                f"{source}: subset {score.subset!r}: {score.correct:g} of {score.n} is not its value "
                f"{score.value:.6f}"
            )
