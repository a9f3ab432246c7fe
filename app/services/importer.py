"""Load result files into the database: upstream eval-set files and this project's results.json.

Sections and Score are recomputed with ``worker.engine.scoring`` (through ``save_evaluation_result``);
whatever a file says about them is ignored. Every row is marked ``imported`` with the file's name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import ResultSource
from app.db.repositories import save_evaluation_result
from app.db.repositories.leaderboard import has_any_result
from app.errors import DomainError
from worker.engine.benchmark import SUBSETS
from worker.engine.errors import DatasetError
from worker.engine.results import EvaluationResult as EngineResult
from worker.engine.results import ResultsFormatError, load_results_file
from worker.engine.scoring import pair_is_correct, tally_subsets
from worker.engine.types import PairScore, PreferencePair

SEED_DIR = Path(__file__).resolve().parent.parent / "seed" / "published-eval-set"
ACCURACY_TOLERANCE = 1e-6


class ResultsImportError(DomainError):
    """A file that cannot be imported; the message is one line and names the file."""


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    path: Path
    hub_id: str
    result_id: int
    score: float | None
    pairs: int
    is_current: bool


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultsImportError(f"{where}: expected a number, found {value!r}")
    return float(value)


def _pair_score(line: Mapping[str, Any], where: str) -> PairScore:
    subset, example_id = line.get("subset"), line.get("id")
    if subset not in SUBSETS:
        raise ResultsImportError(f"{where}: unknown subset {subset!r}")
    if isinstance(example_id, bool) or not isinstance(example_id, int):
        raise ResultsImportError(f"{where}: 'id' must be an integer, found {example_id!r}")
    chosen = _number(line.get("score_chosen"), f"{where} score_chosen")
    rejected = _number(line.get("score_rejected"), f"{where} score_rejected")
    if "result" in line:
        result = _number(line["result"], f"{where} result")
    elif chosen is not None and rejected is not None:
        result = 1.0 if pair_is_correct(chosen, rejected) else 0.0
    elif isinstance(line.get("correct"), bool):
        result = 1.0 if line["correct"] else 0.0
    else:
        raise ResultsImportError(f"{where}: needs score_chosen and score_rejected, or correct")
    if result is None or not 0.0 <= result <= 1.0:
        raise ResultsImportError(f"{where}: result must be in [0, 1]")
    return PairScore(
        subset=str(subset), id=example_id, score_chosen=chosen, score_rejected=rejected, result=result
    )


def load_per_example(path: Path) -> list[PairScore]:
    """Read a per-example JSONL file (subset, id, score_chosen, score_rejected, correct); one pair a line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResultsImportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    scores: list[PairScore] = []
    seen: set[tuple[str, int]] = set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{path}:{number}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultsImportError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(line, dict):
            raise ResultsImportError(f"{where}: expected a JSON object")
        score = _pair_score(line, where)
        if (score.subset, score.id) in seen:
            raise ResultsImportError(f"{where}: pair ({score.subset}, {score.id}) appears twice")
        seen.add((score.subset, score.id))
        scores.append(score)
    if not scores:
        raise ResultsImportError(f"{path}: no pairs found")
    return scores


def _check_agreement(result: EngineResult, scores: Sequence[PairScore], path: Path) -> None:
    """The per-example file must reproduce the results file's accuracies; fill in counts from it."""
    tallies = tally_subsets((score.subset, score.result) for score in scores)
    for subset, accuracy in result.accuracies.items():
        tally = tallies.get(subset)
        if tally is None:
            raise ResultsImportError(f"{path}: has no pairs for subset {subset!r} of the results file")
        if abs(tally.accuracy - accuracy) > ACCURACY_TOLERANCE:
            raise ResultsImportError(
                f"{path}: subset {subset!r} accuracy {tally.accuracy:.6f} disagrees with the results file's "
                f"{accuracy:.6f}"
            )
    extra = sorted(set(tallies) - set(result.accuracies))
    if extra:
        raise ResultsImportError(f"{path}: has pairs for subsets missing from the results file: {extra}")
    if not result.counts:
        result.counts = dict(tallies)


def load_benchmark_texts(path: Path) -> list[PreferencePair]:
    """The benchmark rows of a local RewardBench v1 JSONL/parquet file (for the pair browser)."""
    from worker.engine.dataset import load_dataset

    try:
        return list(load_dataset(str(path)).pairs)
    except DatasetError as exc:
        raise ResultsImportError(str(exc)) from None


def import_results_file(
    session: Session,
    path: Path,
    *,
    per_example: Path | None = None,
    texts: Iterable[PreferencePair] = (),
) -> ImportOutcome:
    """Import one results file (and its per-example file); the row is marked imported with the file name."""
    try:
        result = load_results_file(path)
    except ResultsFormatError as exc:
        raise ResultsImportError(str(exc)) from None
    if "/" not in result.model.strip("/"):
        raise ResultsImportError(f"{path}: model {result.model!r} is not a Hub id of the form org/name")
    scores = load_per_example(per_example) if per_example else []
    if scores:
        _check_agreement(result, scores, per_example or path)
    wanted = {(score.subset, score.id) for score in scores}
    pairs = [pair for pair in texts if pair.key in wanted]
    row = save_evaluation_result(
        session,
        hub_id=result.model.strip("/"),
        result=result,
        pair_scores=scores or None,
        pairs=pairs or None,
        source=ResultSource.IMPORTED,
        source_detail=path.name,
    )
    return ImportOutcome(path, result.model, row.id, row.score, len(scores), row.is_current)


def seed_if_empty(session: Session, seed_dir: Path = SEED_DIR) -> list[ImportOutcome]:
    """On a database with no result at all, import the published files in app/seed; else do nothing."""
    if has_any_result(session):
        return []
    return [import_results_file(session, path) for path in sorted(seed_dir.glob("*.json"))]
