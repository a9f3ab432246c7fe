"""Writing results: the given numbers of one result, its section, subset and example rows, benchmark texts.

Nothing here computes a score: the caller (``app.services.results.results``) hands over the values to store.
Functions flush through the session; the caller's unit of work commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    BenchmarkExample,
    EvaluationResult,
    ExampleResult,
    ResultSource,
    RewardModel,
    SectionScore,
    SubsetScore,
)
from worker.engine.benchmarks import BENCHMARKS, get_benchmark
from worker.engine.types import Example, ScoredExample

_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class SubsetRow:
    subset: str
    n: int | None
    correct: float | None
    value: float


def _savepoint(session: Session) -> AbstractContextManager[object]:
    """A SAVEPOINT to recover from a lost insert race; none on SQLite.

    pysqlite starts no transaction before a SAVEPOINT, so there the RELEASE would commit the caller's work;
    SQLite serializes writers anyway, and a lost race there surfaces as the IntegrityError itself.
    """
    if session.get_bind().dialect.name == "sqlite":
        return nullcontext()
    return session.begin_nested()


def get_or_create_reward_model(session: Session, *, hub_id: str, hub_repo: bool = True) -> RewardModel:
    """The model row for a name, created when new, locked (FOR UPDATE) until the transaction ends."""
    statement = select(RewardModel).where(RewardModel.hub_id == hub_id).with_for_update()
    model = session.scalars(statement).one_or_none()
    if model is not None:
        return model
    try:
        with _savepoint(session):
            model = RewardModel(hub_id=hub_id, display_name=hub_id, hub_repo=hub_repo)
            session.add(model)
            session.flush()
    except IntegrityError:  # created by a concurrent writer since our select
        return session.scalars(statement).one()
    return model


def lock_reward_model_by_id(session: Session, reward_model_id: int) -> RewardModel:
    """The model row, locked (FOR UPDATE) until the transaction ends."""
    return session.scalars(
        select(RewardModel).where(RewardModel.id == reward_model_id).with_for_update()
    ).one()


def result_by_submission(session: Session, submission_id: int) -> EvaluationResult | None:
    return session.scalars(
        select(EvaluationResult).where(EvaluationResult.submission_id == submission_id)
    ).one_or_none()


def imported_result(
    session: Session, *, reward_model_id: int, benchmark: str, model_type: str, digest: str
) -> EvaluationResult | None:
    """An earlier import of the same file content for the same model, benchmark and kind."""
    statement = (
        select(EvaluationResult)
        .where(
            EvaluationResult.reward_model_id == reward_model_id,
            EvaluationResult.benchmark == benchmark,
            EvaluationResult.model_type == model_type,
            EvaluationResult.source == ResultSource.IMPORTED,
            EvaluationResult.source_digest == digest,
        )
        .order_by(EvaluationResult.id)
        .limit(1)
    )
    return session.scalars(statement).first()


def insert_result(session: Session, row: EvaluationResult) -> EvaluationResult | None:
    """Insert the result row; None when a row for its submission already exists (a concurrent writer)."""
    try:
        with _savepoint(session):
            session.add(row)
            session.flush()
    except IntegrityError:
        if row.submission_id is None or not session.is_active:
            raise
        return None
    return row


def insert_sections(session: Session, result_id: int, sections: Mapping[str, float]) -> None:
    if sections:
        rows = [{"result_id": result_id, "section": name, "value": value} for name, value in sections.items()]
        session.execute(insert(SectionScore), rows)


def insert_subsets(session: Session, result_id: int, subsets: Iterable[SubsetRow]) -> None:
    rows = [
        {"result_id": result_id, "subset": row.subset, "n": row.n, "correct": row.correct, "value": row.value}
        for row in subsets
    ]
    if rows:
        session.execute(insert(SubsetScore), rows)


def insert_examples(session: Session, result_id: int, scored: Sequence[ScoredExample]) -> None:
    rows = [
        {
            "result_id": result_id,
            "subset": example.subset,
            "example_id": str(example.id),
            "scores": list(example.scores),
            "num_correct": example.num_correct,
            "outcome": example.outcome,
            "detail": dict(example.detail) if example.detail else None,
        }
        for example in scored
    ]
    for chunk in _chunks(rows):
        session.execute(insert(ExampleResult), chunk)


def save_benchmark_examples(session: Session, *, benchmark: str, examples: Sequence[Example]) -> None:
    """Store benchmark texts keyed by (benchmark, subset, id); rows already stored are left as they are."""
    rows = [
        {
            "benchmark": benchmark,
            "subset": example.subset,
            "example_id": str(example.id),
            "prompt": example.prompt,
            "conversation": [list(message) for message in example.conversation],
            "candidates": list(example.candidates),
            "num_correct": example.num_correct,
            "candidate_models": list(example.candidate_models),
        }
        for example in examples
    ]
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for chunk in _chunks(rows):
        statement = insert_fn(BenchmarkExample).on_conflict_do_nothing(
            index_elements=["benchmark", "subset", "example_id"]
        )
        session.execute(statement, chunk)


def current_result(
    session: Session, *, reward_model_id: int, benchmark: str, model_type: str
) -> EvaluationResult | None:
    """The result the leaderboard shows now for a (model, benchmark, model type), if any."""
    statement = select(EvaluationResult).where(
        EvaluationResult.reward_model_id == reward_model_id,
        EvaluationResult.benchmark == benchmark,
        EvaluationResult.model_type == model_type,
        EvaluationResult.is_current.is_(True),
    )
    return session.scalars(statement.limit(1)).first()


def refresh_current_result(
    session: Session, *, reward_model_id: int, benchmark: str, model_type: str
) -> int | None:
    """Mark the one result the leaderboard shows for a (model, benchmark, model type); return its id.

    The rule: a result no maintainer superseded before one superseded; a result over the whole benchmark
    before one over part of it; then one at the benchmark's own max_length (comparable with the published
    board; other lengths stay on the model page) unless the model has none; then the most recent result
    evaluated here before the most recent imported one ("most recent" = latest ``created_at``, ties broken
    by the larger id).
    """
    scope = (
        EvaluationResult.reward_model_id == reward_model_id,
        EvaluationResult.benchmark == benchmark,
        EvaluationResult.model_type == model_type,
    )
    superseded = case((EvaluationResult.superseded_by_id.is_(None), 0), else_=1)
    coverage = case((EvaluationResult.complete.is_(True), 0), else_=1)
    max_length = EvaluationResult.config["max_length"].as_integer()
    default_length = get_benchmark(benchmark).default_max_length if benchmark in BENCHMARKS else None
    length = case((max_length.is_(None), 0), (max_length == default_length, 0), else_=1)
    preference = case((EvaluationResult.source == ResultSource.EVALUATED, 0), else_=1)
    current_id = session.scalar(
        select(EvaluationResult.id)
        .where(*scope)
        .order_by(
            superseded,
            coverage,
            length,
            preference,
            EvaluationResult.created_at.desc(),
            EvaluationResult.id.desc(),
        )
        .limit(1)
    )
    session.execute(
        update(EvaluationResult)
        .where(*scope, EvaluationResult.is_current.is_(True), EvaluationResult.id != current_id)
        .values(is_current=False)
    )
    if current_id is not None:
        session.execute(
            update(EvaluationResult).where(EvaluationResult.id == current_id).values(is_current=True)
        )
    return current_id


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]
