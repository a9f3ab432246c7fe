"""Writing results: one evaluation result with its subset rows, pair rows and benchmark texts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    BenchmarkExample,
    EvaluationResult,
    PairResult,
    ResultSource,
    RewardModel,
    SubsetResult,
)
from worker.engine.results import EvaluationResult as EngineResult
from worker.engine.scoring import SubsetTally, prior_sets_score, tally_subsets
from worker.engine.types import PairScore, PreferencePair

_CHUNK = 5_000


def _savepoint(session: Session) -> AbstractContextManager[object]:
    """A SAVEPOINT to recover from a lost insert race; none on SQLite.

    pysqlite starts no transaction before a SAVEPOINT, so there the RELEASE would commit the caller's work;
    SQLite serializes writers anyway, and a lost race there surfaces as the IntegrityError itself.
    """
    if session.get_bind().dialect.name == "sqlite":
        return nullcontext()
    return session.begin_nested()


def get_or_create_reward_model(session: Session, *, hub_id: str, model_type: str) -> RewardModel:
    """The model row for a Hub id, created when new, locked (FOR UPDATE) until the transaction ends."""
    statement = select(RewardModel).where(RewardModel.hub_id == hub_id).with_for_update()
    model = session.scalars(statement).one_or_none()
    if model is not None:
        return model
    try:
        with _savepoint(session):
            model = RewardModel(hub_id=hub_id, display_name=hub_id, model_type=model_type)
            session.add(model)
            session.flush()
    except IntegrityError:  # created by a concurrent writer since our select
        return session.scalars(statement).one()
    return model


def refresh_current_result(session: Session, reward_model_id: int) -> int | None:
    """Mark the one result the leaderboard shows for a model; return its id.

    The rule: the model's most recent result evaluated here; if it has none, its most recent imported
    result ("most recent" = latest ``created_at``, ties broken by the larger id).
    """
    preference = case((EvaluationResult.source == ResultSource.EVALUATED, 0), else_=1)
    current_id = session.scalar(
        select(EvaluationResult.id)
        .where(EvaluationResult.reward_model_id == reward_model_id)
        .order_by(preference, EvaluationResult.created_at.desc(), EvaluationResult.id.desc())
        .limit(1)
    )
    session.execute(
        update(EvaluationResult)
        .where(
            EvaluationResult.reward_model_id == reward_model_id,
            EvaluationResult.is_current.is_(True),
            EvaluationResult.id != current_id,
        )
        .values(is_current=False)
    )
    if current_id is not None:
        session.execute(
            update(EvaluationResult).where(EvaluationResult.id == current_id).values(is_current=True)
        )
    return current_id


def _result_by_submission(session: Session, submission_id: int) -> EvaluationResult | None:
    return session.scalars(
        select(EvaluationResult).where(EvaluationResult.submission_id == submission_id)
    ).one_or_none()


def _subset_rows(
    result_id: int, result: EngineResult, pair_scores: Sequence[PairScore] | None
) -> list[dict[str, Any]]:
    tallies: Mapping[str, SubsetTally] = result.counts
    if not tallies and pair_scores:
        tallies = tally_subsets((score.subset, score.result) for score in pair_scores)
    rows = []
    for subset, accuracy in result.accuracies.items():
        tally = tallies.get(subset)
        rows.append(
            {
                "result_id": result_id,
                "subset": subset,
                "n": tally.n if tally else None,
                "correct": tally.correct if tally else None,
                "accuracy": accuracy,
            }
        )
    return rows


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def save_benchmark_examples(session: Session, *, benchmark: str, pairs: Sequence[PreferencePair]) -> None:
    """Store benchmark texts keyed by (benchmark, subset, id); rows already stored are left as they are."""
    rows = [
        {
            "benchmark": benchmark,
            "subset": pair.subset,
            "example_id": pair.id,
            "prompt": pair.prompt,
            "chosen": pair.chosen,
            "rejected": pair.rejected,
            "chosen_model": pair.chosen_model,
            "rejected_model": pair.rejected_model,
        }
        for pair in pairs
    ]
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for chunk in _chunks(rows):
        statement = insert_fn(BenchmarkExample).on_conflict_do_nothing(
            index_elements=["benchmark", "subset", "example_id"]
        )
        session.execute(statement, chunk)


def save_evaluation_result(
    session: Session,
    *,
    hub_id: str,
    result: EngineResult,
    pair_scores: Sequence[PairScore] | None = None,
    pairs: Sequence[PreferencePair] | None = None,
    source: ResultSource = ResultSource.EVALUATED,
    source_detail: str | None = None,
    submission_id: int | None = None,
    revision: str | None = None,
    commit: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Store one evaluation result and make it the model's current one when the leaderboard rule says so.

    Contract:
      - Writes, in the caller's transaction (flushes, never commits): the ``reward_model`` row for
        ``hub_id`` (created if missing, with ``model_type`` from ``result``), one ``evaluation_result``
        row whose sections and Score are recomputed from ``result.accuracies`` with
        ``worker.engine.scoring`` (never taken from a file), one ``subset_result`` row per subset
        (``n``/``correct`` from ``result.counts``, else tallied from ``pair_scores``), one
        ``pair_result`` row per ``PairScore`` (bulk insert), and the ``benchmark_example`` texts of
        ``pairs`` (rows already stored are kept: insert-or-ignore on (benchmark, subset, id)).
      - Several results per model are kept side by side (revisions, configs); nothing is overwritten.
        ``is_current`` is then recomputed for the model: its most recent ``evaluated`` result, else its
        most recent ``imported`` one. The model row is locked (FOR UPDATE on PostgreSQL) meanwhile, so
        concurrent writers for one model leave exactly one current row.
      - Idempotent per ``submission_id``: ``evaluation_result.submission_id`` is unique; when a row for
        that submission exists (an earlier call, a retried task, or a concurrent writer), nothing is
        written and that existing row is returned.
      - ``source`` is ``ResultSource.EVALUATED`` for the worker, ``ResultSource.IMPORTED`` for files;
        ``source_detail`` says where it came from (the file name for imports).

    Returns:
        The ``EvaluationResult`` ORM row (flushed, with its id); its relationships are not loaded.
    """
    if submission_id is not None:
        existing = _result_by_submission(session, submission_id)
        if existing is not None:
            return existing
    model = get_or_create_reward_model(session, hub_id=hub_id, model_type=result.model_type)
    agg = result.aggregate()
    row = EvaluationResult(
        reward_model_id=model.id,
        submission_id=submission_id,
        benchmark=result.benchmark,
        benchmark_version=str(result.reproducibility.get("dataset_revision", ""))[:100],
        scoring_version=agg.scoring_version,
        revision=revision,
        commit=commit,
        model_type=result.model_type,
        chat_template=result.chat_template,
        config=dict(config or {}),
        score=agg.score,
        chat=agg.sections.get("Chat"),
        chat_hard=agg.sections.get("Chat Hard"),
        safety=agg.sections.get("Safety"),
        reasoning=agg.sections.get("Reasoning"),
        prior_sets=prior_sets_score(result.extra),
        reproducibility=dict(result.reproducibility),
        source=source,
        source_detail=source_detail,
        is_current=False,
    )
    try:
        with _savepoint(session):
            session.add(row)
            session.flush()
    except IntegrityError:
        if submission_id is None or not session.is_active:
            raise
        existing = _result_by_submission(session, submission_id)
        if existing is None:
            raise
        return existing
    session.execute(insert(SubsetResult), _subset_rows(row.id, result, pair_scores))
    if pairs:
        save_benchmark_examples(session, benchmark=result.benchmark, pairs=pairs)
    if pair_scores:
        pair_rows = [
            {
                "result_id": row.id,
                "subset": score.subset,
                "example_id": score.id,
                "score_chosen": score.score_chosen,
                "score_rejected": score.score_rejected,
                "result": score.result,
                "correct": score.correct,
            }
            for score in pair_scores
        ]
        for chunk in _chunks(pair_rows):
            session.execute(insert(PairResult), chunk)
    refresh_current_result(session, model.id)
    session.refresh(row, attribute_names=["is_current"])
    return row
