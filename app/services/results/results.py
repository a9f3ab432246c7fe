"""Recording a result: sections and Score computed by the benchmark's definition, then stored as rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultSource
from app.db.repositories import results as repo
from app.services.results.intervals import ResultIntervals, compute_and_store, store_intervals
from worker.engine.benchmarks.base import Aggregate
from worker.engine.results import BenchmarkResult
from worker.engine.types import Example, ScoredExample


@dataclass(frozen=True, slots=True)
class Published:
    """What a published board printed for a result: its Score and the formula that Score follows."""

    score: float | None
    formula: str | None


def record_result(
    session: Session,
    *,
    hub_id: str,
    result: BenchmarkResult,
    reward_model_id: int | None = None,
    scored: Sequence[ScoredExample] | None = None,
    examples: Sequence[Example] | None = None,
    source: ResultSource = ResultSource.EVALUATED,
    source_detail: str | None = None,
    source_digest: str | None = None,
    submission_id: int | None = None,
    revision: str | None = None,
    commit: str | None = None,
    config: Mapping[str, Any] | None = None,
    hub_repo: bool = True,
    sections: Mapping[str, float] | None = None,
    published: Published | None = None,
    intervals: ResultIntervals | None = None,
) -> EvaluationResult:
    """Store one result and make it current for its (model, benchmark, model type) when the rule says so.

    Contract:
      - Writes in the caller's transaction (flushes, never commits): the model row (``reward_model_id``,
        else found by ``hub_id``, created if missing; locked meanwhile),
        one ``evaluation_result`` row, one ``section_score`` row per section and one ``subset_score`` row
        per subset, one ``example_result`` row per scored example, and the ``benchmark_example`` texts of
        ``examples`` (texts already stored are kept); the 95% bootstrap intervals of the Score and sections
        computed from ``scored`` (``app.services.results.intervals``; none without examples), or ``intervals``
        when the caller computed them before its transaction.
      - Sections and Score come from the benchmark's definition applied to the subset values
        (``result.aggregate()``), never from a file. Only a result without subset values (a published
        board's row) passes ``sections``; its Score is then today's formula applied to those sections.
      - ``complete`` is whether the result covers the whole benchmark; a partial result is never ranked.
      - Idempotent per ``submission_id`` (unique): an existing row for it is returned and nothing is written.
        Idempotent per imported file content: with ``source_digest``, an earlier import of the same digest
        for the same model, benchmark and kind is returned and nothing is written.
    """
    if submission_id is not None:
        existing = repo.result_by_submission(session, submission_id)
        if existing is not None:
            return existing
    if reward_model_id is not None:
        model = repo.lock_reward_model_by_id(session, reward_model_id)
    else:
        model = repo.get_or_create_reward_model(session, hub_id=hub_id, hub_repo=hub_repo)
    if source_digest is not None:
        earlier = repo.imported_result(
            session,
            reward_model_id=model.id,
            benchmark=result.benchmark,
            model_type=result.model_type,
            digest=source_digest,
        )
        if earlier is not None:
            return earlier
    agg = _aggregate(result, sections)
    row = repo.insert_result(
        session,
        EvaluationResult(
            reward_model_id=model.id,
            submission_id=submission_id,
            benchmark=result.benchmark,
            benchmark_version=_benchmark_version(result),
            scoring_version=agg.scoring_version,
            revision=revision,
            commit=commit,
            model_type=result.model_type,
            chat_template=result.chat_template,
            config=dict(config or {}),
            score=agg.score,
            complete=result.covers_benchmark() if sections is None else True,
            published_score=published.score if published else None,
            published_formula=published.formula if published else None,
            reproducibility=dict(result.reproducibility),
            source=source,
            source_detail=source_detail,
            source_digest=source_digest,
            is_current=False,
        ),
    )
    if row is None:
        assert submission_id is not None
        existing = repo.result_by_submission(session, submission_id)
        assert existing is not None
        return existing
    repo.insert_sections(session, row.id, agg.sections)
    repo.insert_subsets(
        session,
        row.id,
        (repo.SubsetRow(s.subset, s.n, s.correct, s.value) for s in result.subset_scores.values()),
    )
    if examples:
        repo.save_benchmark_examples(session, benchmark=result.benchmark, examples=examples)
    if scored:
        repo.insert_examples(session, row.id, scored)
    if intervals is None:
        compute_and_store(
            session,
            result_id=row.id,
            benchmark=row.benchmark,
            scoring_version=row.scoring_version,
            scored=scored,
        )
    else:
        store_intervals(session, row.id, intervals)
    repo.refresh_current_result(
        session, reward_model_id=model.id, benchmark=result.benchmark, model_type=result.model_type
    )
    session.refresh(
        row, attribute_names=["is_current", "score_low", "score_high", "interval_status", "interval_version"]
    )
    return row


def _aggregate(result: BenchmarkResult, sections: Mapping[str, float] | None) -> Aggregate:
    if sections is None:
        return result.aggregate()
    definition = result.definition
    version = definition.scoring_version(result.scoring_version)
    known = {name: value for name, value in sections.items() if definition.section(name) is not None}
    return Aggregate(version.name, known, version.score_formula.apply(known))


def _benchmark_version(result: BenchmarkResult) -> str:
    """The dataset revision the result was computed on, else its fingerprint ("" when unknown)."""
    dataset = result.reproducibility.get("dataset")
    if isinstance(dataset, Mapping):
        version = dataset.get("revision") or dataset.get("fingerprint") or ""
        return str(version)[:100]
    return ""
