"""Load result files into the database: upstream eval-set files and this project's results.json.

Sections and Score are recomputed by the benchmark's definition (through ``record_result``); whatever a
file says about them is ignored. Every row is marked ``imported`` with the file's name, and importing the
same file content again for the same model returns the earlier result instead of adding one. Every
malformed input is refused with a one-line ``ResultsImportError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import ResultSource
from app.errors import DomainError
from app.services.intake.model_ids import invalid_hub_id
from app.services.results.results import record_result
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import Benchmark
from worker.engine.errors import DatasetError
from worker.engine.results import BenchmarkResult, ResultsFormatError, parse_results
from worker.engine.types import Example, ScoredExample

ACCURACY_TOLERANCE = 1e-6


class ResultsImportError(DomainError):
    """A file that cannot be imported; the message is one line and names the file."""


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    path: Path
    hub_id: str
    result_id: int
    score: float | None
    examples: int
    is_current: bool


def import_results_file(
    session: Session,
    path: Path,
    *,
    per_example: Path | None = None,
    texts: Iterable[Example] = (),
) -> ImportOutcome:
    """Import one results file (and its per-example file); the row is marked imported with the file name."""
    content = _read_bytes(path)
    result = _parse(content, path)
    problem = invalid_hub_id(result.model)
    if problem:
        raise ResultsImportError(f"{path.name}: model {result.model!r} {problem}")
    scored = load_per_example(result.definition, per_example) if per_example else []
    if scored:
        _check_agreement(result, scored, per_example or path)
    wanted = {example.key for example in scored}
    examples = [example for example in texts if example.key in wanted]
    digest = hashlib.sha256(content + (_read_bytes(per_example) if per_example else b"")).hexdigest()
    row = record_result(
        session,
        hub_id=result.model,
        result=result,
        scored=scored or None,
        examples=examples or None,
        source=ResultSource.IMPORTED,
        source_detail=path.name,
        source_digest=digest,
    )
    return ImportOutcome(path, result.model, row.id, row.score, len(scored), row.is_current)


def load_benchmark_texts(benchmark: str, path: Path) -> list[Example]:
    """The examples of a local copy of a benchmark's data (JSONL/parquet), for the example browser."""
    from worker.engine.dataset import load_dataset

    try:
        return list(load_dataset(get_benchmark(benchmark), str(path)).examples)
    except DatasetError as exc:
        raise ResultsImportError(exc.message) from None


def load_per_example(benchmark: Benchmark, path: Path) -> list[ScoredExample]:
    """Read a per-example JSONL file: subset, id, and scores (or score_chosen and score_rejected) a line."""
    try:
        lines = _read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ResultsImportError(f"{path.name}: not UTF-8 text") from None
    scored: list[ScoredExample] = []
    seen: set[tuple[str, str]] = set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultsImportError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(line, dict):
            raise ResultsImportError(f"{where}: expected a JSON object")
        example = _scored_example(benchmark, line, where)
        if example.key in seen:
            raise ResultsImportError(f"{where}: example ({example.subset}, {example.id}) appears twice")
        seen.add(example.key)
        scored.append(example)
    if not scored:
        raise ResultsImportError(f"{path.name}: no examples found")
    return scored


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ResultsImportError(f"{path.name}: no such file") from None
    except IsADirectoryError:
        raise ResultsImportError(f"{path.name}: is a directory, not a file") from None
    except OSError as exc:
        raise ResultsImportError(f"{path.name}: cannot read ({exc.strerror or exc})") from None


def _parse(content: bytes, path: Path) -> BenchmarkResult:
    try:
        document = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ResultsImportError(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ResultsImportError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return parse_results(document, source=path.name)
    except ResultsFormatError as exc:
        raise ResultsImportError(str(exc)) from None


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultsImportError(f"{where}: expected a number, found {value!r}")
    if not math.isfinite(value):
        raise ResultsImportError(f"{where}: {value} is not a finite number")
    return float(value)


def _scored_example(benchmark: Benchmark, line: Mapping[str, Any], where: str) -> ScoredExample:
    subset, example_id = line.get("subset"), line.get("id")
    if not isinstance(subset, str) or benchmark.subset(subset) is None:
        raise ResultsImportError(f"{where}: unknown subset {subset!r} of {benchmark.label}")
    if isinstance(example_id, bool) or not isinstance(example_id, int | str) or str(example_id) == "":
        raise ResultsImportError(f"{where}: 'id' must be an integer or a string, found {example_id!r}")
    scores = _scores(line, where)
    num_correct = line.get("num_correct", 1)
    if (
        isinstance(num_correct, bool)
        or not isinstance(num_correct, int)
        or not 0 < num_correct <= len(scores)
    ):
        raise ResultsImportError(f"{where}: 'num_correct' must be from 1 to the number of scores")
    outcome = _outcome(benchmark, subset, line, scores, num_correct, where)
    return ScoredExample(subset, example_id, tuple(scores), num_correct, outcome)


def _scores(line: Mapping[str, Any], where: str) -> list[float | None]:
    if "scores" in line:
        raw = line["scores"]
        if not isinstance(raw, list) or len(raw) < 2:
            raise ResultsImportError(f"{where}: 'scores' must be a list with a score per candidate")
        return [_number(value, f"{where} scores") for value in raw]
    return [
        _number(line.get("score_chosen"), f"{where} score_chosen"),
        _number(line.get("score_rejected"), f"{where} score_rejected"),
    ]


def _outcome(
    benchmark: Benchmark,
    subset: str,
    line: Mapping[str, Any],
    scores: Sequence[float | None],
    num_correct: int,
    where: str,
) -> float | None:
    for key in ("outcome", "result"):
        if key in line and line[key] is not None:
            value = _number(line[key], f"{where} {key}")
            if value is None or not 0.0 <= value <= 1.0:
                raise ResultsImportError(f"{where}: {key} must be in [0, 1]")
            return value
    if all(score is not None for score in scores):
        values = [score for score in scores if score is not None]
        return benchmark.decide(subset, values, num_correct, "strict")
    if isinstance(line.get("correct"), bool):
        return 1.0 if line["correct"] else 0.0
    raise ResultsImportError(f"{where}: needs scores for every candidate, an outcome, or correct")


def _check_agreement(result: BenchmarkResult, scored: Sequence[ScoredExample], path: Path) -> None:
    """The per-example file must reproduce the results file's values; fill in counts from it."""
    try:
        recomputed = result.definition.subset_scores(scored, result.scoring_version)
    except ValueError as exc:
        raise ResultsImportError(f"{path.name}: {exc}") from None
    for subset, score in result.subset_scores.items():
        again = recomputed.get(subset)
        if again is None:
            raise ResultsImportError(
                f"{path.name}: has no examples for subset {subset!r} of the results file"
            )
        if abs(again.value - score.value) > ACCURACY_TOLERANCE:
            raise ResultsImportError(
                f"{path.name}: subset {subset!r} value {again.value:.6f} disagrees with the results file's "
                f"{score.value:.6f}"
            )
    extra = sorted(set(recomputed) - set(result.subset_scores))
    if extra:
        raise ResultsImportError(
            f"{path.name}: has examples for subsets missing from the results file: {extra}"
        )
    result.subset_scores = {name: recomputed[name] for name in result.subset_scores}
