"""Import a published leaderboard: one row per model with its section values and the Score it printed.

A board file is JSON lines ``{model, model_type, scores: {Score, <section>...}, retrieved_timestamp, source}``
named after its benchmark (``rewardbench-v1.jsonl``). Each row becomes an imported result whose sections are
the published ones and whose Score is today's formula applied to them; the printed Score is kept beside it
with the benchmark's Score formula it follows, or none (the row is then flagged: its published Score does
not match its sections). Names without a Hub repository (API judges) are stored as such.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from app.db.models import ResultSource
from app.services.intake.model_ids import is_api_model
from app.services.results.importer import ImportOutcome, ResultsImportError
from app.services.results.results import Published, record_result
from worker.engine.benchmarks import BENCHMARKS, get_benchmark
from worker.engine.benchmarks.base import Benchmark, ScoreFormula
from worker.engine.kinds import kind_for_label
from worker.engine.results import BenchmarkResult

# Published values have four decimals (each off by at most 5e-5): a weighted mean of the rounded sections is
# within 5e-5 of the true one, and the printed Score is itself rounded, so they can differ by up to 1e-4.
SCORE_TOLERANCE: Final = 1e-4 + 1e-9
# How published boards name a section when it differs from the definition's name.
_SECTION_ALIASES: Final = {"Prior Sets (0.5 weight)": "Prior Sets"}


def import_board(session: Session, path: Path) -> list[ImportOutcome]:
    """Import every row of one board file (idempotent: a row already imported is not added again)."""
    if path.stem not in BENCHMARKS:
        known = ", ".join(BENCHMARKS)
        raise ResultsImportError(f"{path.name}: a board file is named after its benchmark ({known})")
    benchmark = get_benchmark(path.stem)
    outcomes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            outcomes.append(_import_row(session, benchmark, path, number, line))
    return outcomes


def matching_formula(benchmark: Benchmark, sections: Mapping[str, float], published: float) -> str | None:
    """The key of the first Score formula of the benchmark that reproduces ``published``, else None."""
    for formula in _formulas(benchmark):
        value = formula.apply(sections)
        if value is not None and abs(value - published) <= SCORE_TOLERANCE:
            return formula.key
    return None


def _formulas(benchmark: Benchmark) -> list[ScoreFormula]:
    current = benchmark.scoring_version().score_formula
    others = [version.score_formula for version in benchmark.scoring_versions.values()]
    unique = {formula.key: formula for formula in (current, *others)}
    return list(unique.values())


def _import_row(session: Session, benchmark: Benchmark, path: Path, number: int, line: str) -> ImportOutcome:
    where = f"{path.name}:{number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ResultsImportError(f"{where}: not valid JSON ({exc.msg})") from None
    name = row.get("model") if isinstance(row, dict) else None
    if not isinstance(name, str) or not name.strip() or any(ord(c) < 32 for c in name):
        raise ResultsImportError(f"{where}: 'model' must be a one-line name")
    kind = kind_for_label(str(row.get("model_type", "")))
    if kind is None:
        raise ResultsImportError(f"{where}: unknown model type {row.get('model_type')!r}")
    scores = row.get("scores")
    if not isinstance(scores, dict):
        raise ResultsImportError(f"{where}: 'scores' must be an object")
    sections = _sections(benchmark, scores, where)
    published = _value(scores.get("Score"), f"{where} Score") if "Score" in scores else None
    formula = matching_formula(benchmark, sections, published) if published is not None else None
    result = BenchmarkResult(
        model=name.strip(),
        model_type=kind.key,
        chat_template="",
        benchmark=benchmark.id,
        subset_scores={},
        reproducibility={"published": {key: row.get(key) for key in ("retrieved_timestamp", "source")}},
    )
    stored = record_result(
        session,
        hub_id=result.model,
        result=result,
        source=ResultSource.IMPORTED,
        source_detail=f"{path.name} (published leaderboard)",
        source_digest=hashlib.sha256(line.encode("utf-8")).hexdigest(),
        hub_repo=not is_api_model(result.model),
        sections=sections,
        published=Published(published, formula),
    )
    return ImportOutcome(path, result.model, stored.id, stored.score, 0, stored.is_current)


def _sections(benchmark: Benchmark, scores: Mapping[str, Any], where: str) -> dict[str, float]:
    """The published section values; a section outside the Score printed as exactly 0 was not run (the
    published v1 board writes 0.0 for Prior Sets it did not run) and is left out."""
    outside_score = {section.name for section in benchmark.sections} - {
        section.name for section in benchmark.score_sections()
    }
    sections: dict[str, float] = {}
    for key, value in scores.items():
        name = _SECTION_ALIASES.get(key, key)
        if name == "Score":
            continue
        if benchmark.section(name) is None:
            raise ResultsImportError(f"{where}: unknown section {key!r} of {benchmark.label}")
        number = _value(value, f"{where} {key}")
        low, high = _section_range(benchmark, name)
        if not low <= number <= high:
            raise ResultsImportError(f"{where} {key}: {number} is outside [{low:g}, {high:g}]")
        if number == 0.0 and name in outside_score:
            continue
        sections[name] = number
    return sections


def _section_range(benchmark: Benchmark, section: str) -> tuple[float, float]:
    """The values a section can take: the widest range of its subsets (RewardBench 2 Ties leaves [0, 1])."""
    ranges = [subset.value_range for subset in benchmark.subsets_of(section)] or [(0.0, 1.0)]
    return min(low for low, _ in ranges), max(high for _, high in ranges)


def _value(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResultsImportError(f"{where}: expected a number, found {value!r}")
    return float(value)
