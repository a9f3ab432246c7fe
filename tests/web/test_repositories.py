"""record_result: bulk writes, idempotency per submission and per imported file, the is_current rule."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import (
    BenchmarkExample,
    EvaluationResult,
    ExampleResult,
    ResultSource,
    SectionScore,
    Submission,
    SubsetScore,
)
from app.db.repositories.results import get_or_create_reward_model
from app.services.results.results import record_result
from tests.web.factories import engine_result, make_result, sample_pairs, scores_for


def _current(session: Session, model_id: int) -> list[int]:
    statement = select(EvaluationResult.id).where(
        EvaluationResult.reward_model_id == model_id, EvaluationResult.is_current.is_(True)
    )
    return list(session.scalars(statement))


def test_writes_result_sections_subsets_examples_and_texts(db_session: Session) -> None:
    pairs = sample_pairs()
    scores = scores_for(pairs)
    row = make_result(db_session, "org/model", 0.75, scored=scores, examples=pairs)
    assert row.id and row.is_current and row.complete
    assert row.score is not None and abs(row.score - 0.75) < 1e-12
    assert row.benchmark == "rewardbench-v1" and row.model_type == "classifier"
    assert db_session.scalar(select(func.count()).select_from(SubsetScore)) == 23
    sections = dict(db_session.execute(select(SectionScore.section, SectionScore.value)).all())
    assert sections == pytest.approx(dict.fromkeys(("Chat", "Chat Hard", "Safety", "Reasoning"), 0.75))
    assert db_session.scalar(select(func.count()).select_from(ExampleResult)) == len(scores)
    assert db_session.scalar(select(func.count()).select_from(BenchmarkExample)) == len(pairs)
    stored = db_session.scalars(select(ExampleResult).order_by(ExampleResult.id)).first()
    assert stored is not None
    assert (stored.example_id, stored.scores, stored.outcome) == (str(pairs[0].id), [0.9, 0.1], 1.0)
    text = db_session.scalars(select(BenchmarkExample).order_by(BenchmarkExample.id)).first()
    assert text is not None
    assert text.candidates == list(pairs[0].candidates) and text.conversation == [["user", pairs[0].prompt]]
    # texts already stored are kept, not duplicated
    make_result(db_session, "org/other", 0.5, scored=scores, examples=pairs)
    assert db_session.scalar(select(func.count()).select_from(BenchmarkExample)) == len(pairs)


def test_the_benchmark_version_is_the_data_revision_or_fingerprint(db_session: Session) -> None:
    pinned = engine_result("org/pinned")
    pinned.reproducibility = {"dataset": {"revision": "168d848c", "fingerprint": "f" * 64}}
    local = engine_result("org/local")
    local.reproducibility = {"dataset": {"revision": None, "fingerprint": "ab" * 32}}
    rows = [record_result(db_session, hub_id=r.model, result=r) for r in (pinned, local)]
    assert [row.benchmark_version for row in rows] == ["168d848c", "ab" * 32]


def test_a_partial_result_is_never_current_over_a_complete_one(db_session: Session) -> None:
    complete = make_result(db_session, "org/model", 0.6, source=ResultSource.IMPORTED)
    partial = engine_result("org/model", {"hep-go": 0.9, "hep-rust": 0.8})
    row = record_result(db_session, hub_id="org/model", result=partial, revision="main")
    assert not row.complete and not row.is_current
    assert _current(db_session, complete.reward_model_id) == [complete.id]


def test_idempotent_per_submission(db_session: Session) -> None:
    model = get_or_create_reward_model(db_session, hub_id="org/model")
    submission = Submission(reward_model_id=model.id, model_type="classifier", benchmark="rewardbench-v1")
    db_session.add(submission)
    db_session.flush()
    first = make_result(db_session, "org/model", 0.8, submission_id=submission.id)
    second = make_result(db_session, "org/model", 0.1, submission_id=submission.id)
    assert second.id == first.id
    assert db_session.scalar(select(func.count()).select_from(EvaluationResult)) == 1
    assert db_session.scalar(select(func.count()).select_from(SubsetScore)) == 23


def test_current_is_latest_evaluated_else_latest_imported(db_session: Session) -> None:
    imported_old = make_result(db_session, "org/model", 0.6, source=ResultSource.IMPORTED)
    model_id = imported_old.reward_model_id
    assert _current(db_session, model_id) == [imported_old.id]
    imported_new = make_result(db_session, "org/model", 0.65, source=ResultSource.IMPORTED)
    assert _current(db_session, model_id) == [imported_new.id]
    evaluated = make_result(db_session, "org/model", 0.7, revision="v1")
    assert _current(db_session, model_id) == [evaluated.id]
    # a later import does not displace a result evaluated here
    make_result(db_session, "org/model", 0.99, source=ResultSource.IMPORTED)
    assert _current(db_session, model_id) == [evaluated.id]
    evaluated_new = make_result(db_session, "org/model", 0.72, revision="v2", config={"max_length": 2048})
    assert _current(db_session, model_id) == [evaluated_new.id]
    assert db_session.scalar(select(func.count()).select_from(EvaluationResult)) == 5


def test_a_result_at_another_max_length_is_current_only_without_one_at_the_benchmarks(
    db_session: Session,
) -> None:
    long_only = make_result(db_session, "org/long", 0.8, config={"max_length": 16384})
    assert _current(db_session, long_only.reward_model_id) == [long_only.id]
    default = make_result(db_session, "org/model", 0.7, config={"max_length": 2048})
    longer = make_result(db_session, "org/model", 0.75, config={"max_length": 16384})
    assert _current(db_session, default.reward_model_id) == [default.id]  # the newer 16k one stays off
    assert not longer.is_current


@pytest.mark.postgres
def test_concurrent_saves_for_one_submission_store_one_result(postgres_clean_engine: Engine) -> None:
    factory = sessionmaker(bind=postgres_clean_engine, expire_on_commit=False)
    with factory.begin() as session:
        model = get_or_create_reward_model(session, hub_id="org/model")
        submission = Submission(reward_model_id=model.id, model_type="classifier", benchmark="rewardbench-v1")
        session.add(submission)
        session.flush()
        submission_id = submission.id
    first = factory()
    row = make_result(first, "org/model", 0.8, submission_id=submission_id)  # holds the model row lock
    seen: dict[str, int] = {}

    def retry() -> None:
        with factory() as second:
            seen["id"] = make_result(second, "org/model", 0.1, submission_id=submission_id).id
            second.commit()

    thread = threading.Thread(target=retry)
    thread.start()
    time.sleep(0.2)  # let the second writer reach the lock; correctness does not depend on it
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert seen["id"] == row.id
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(EvaluationResult)) == 1
        assert _current(session, row.reward_model_id) == [row.id]
