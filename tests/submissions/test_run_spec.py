"""One path for a run: the run specification is fixed at submit time and is all the worker reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import EvaluationResult, SectionScore, Submission
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.services.intake.run_spec import RunConfig
from tests.submissions.conftest import GOOD, SAMPLE_DATA, SPARE, submission_body
from tests.submissions.test_lease import new_submission
from tests.support.hub_server import HubServer
from worker.settings import WorkerSettings
from worker.tasks import run_submission

V2_SAMPLE = SAMPLE_DATA.with_name("rewardbench2_sample.jsonl")
BASE = RunConfig(
    benchmark="rewardbench-v1",
    model_type="classifier",
    kind_settings={"chat_template": "auto"},
    max_length=2048,
)


@pytest.mark.parametrize(
    "change",
    [
        {"dataset": "/data/copy.jsonl"},
        {"limit_per_subset": 1},
        {"benchmark": "rewardbench-v2"},
        {"extra_parts": ["prior-sets"]},
        {"max_length": 4096},
        {"kind_settings": {"chat_template": "tulu"}},
    ],
)
def test_every_setting_that_changes_a_result_changes_the_key(change: dict[str, object]) -> None:
    assert BASE.model_copy(update=change).key() != BASE.key()
    assert BASE.model_copy().key() == BASE.key()


def test_published_settings_name_a_local_dataset_by_its_file_only() -> None:
    config = BASE.model_copy(update={"dataset": "/srv/secret/place/rewardbench.jsonl"})
    assert config.public()["dataset"] == "rewardbench.jsonl"
    assert "/srv" not in json.dumps(config.public())


def test_the_benchmark_choice_reaches_the_submission(
    client: TestClient, settings: Settings, sqlite_engine: Engine
) -> None:
    created = client.post("/api/v1/submissions", json=submission_body(SPARE[6], benchmark="rewardbench-v2"))
    assert created.status_code == 201, created.text
    body = created.json()["submission"]
    assert (body["benchmark"], body["benchmark_label"]) == ("rewardbench-v2", "RewardBench 2")
    with_prior = client.post(
        "/api/v1/submissions", json=submission_body(SPARE[6], extra_parts=["prior-sets"])
    )
    assert with_prior.status_code == 201, with_prior.text
    assert with_prior.json()["submission"]["extra_parts"] == ["prior-sets"]
    wrong = client.post(
        "/api/v1/submissions",
        json=submission_body(SPARE[7], benchmark="rewardbench-v2", extra_parts=["prior-sets"]),
    )
    assert wrong.status_code == 422 and "unknown data part 'prior-sets' of rewardbench-v2" in wrong.text
    with sessionmaker(bind=sqlite_engine)() as session:  # the database behind ``client``
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        configs = [RunConfig.model_validate(row.run_config) for row in rows]
        assert [config.benchmark for config in configs] == ["rewardbench-v2", "rewardbench-v1"]
        assert configs[0].dataset == settings.dataset_for("rewardbench-v2")
        assert configs[1].extra_parts == ["prior-sets"]
        assert [row.config_key for row in rows] == [config.key() for config in configs]


@pytest.fixture
def hub_endpoint(hub: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HubServer:
    """Point this process's huggingface_hub at the Hub stand-in (the worker runs in-process here)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    template = constants.HUGGINGFACE_CO_URL_TEMPLATE.replace(constants._HF_DEFAULT_ENDPOINT, hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    for name in ("HF_HOME", "HF_HUB_CACHE"):  # the worker sets them for its process: undo it afterwards
        monkeypatch.setenv(name, str(tmp_path / "hf" / name.lower()))
    return hub


def test_a_rewardbench2_submission_gives_a_rewardbench2_result(
    hub_endpoint: HubServer, db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    config = RunConfig(
        benchmark="rewardbench-v2",
        model_type="classifier",
        kind_settings={"chat_template": "auto"},
        max_length=512,
        dataset=str(V2_SAMPLE),
    )
    commit = hub_endpoint.repo(GOOD).sha  # type: ignore[union-attr]
    submission_id = new_submission(db_session_factory, GOOD, commit=commit, config=config)
    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path, eval_batch_tokens=2048)
    outcome = run_submission(submission_id, settings, owner="test")
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert outcome.status == "succeeded", (row.failure_kind, row.failure_message)
        result = session.scalars(
            select(EvaluationResult).where(EvaluationResult.submission_id == submission_id)
        ).one()
        assert (result.benchmark, result.scoring_version) == ("rewardbench-v2", "rbv2-head")
        sections = set(
            session.scalars(select(SectionScore.section).where(SectionScore.result_id == result.id))
        )
        assert sections == {"Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"}
        assert result.reproducibility["benchmark"] == "rewardbench-v2"
        assert result.reproducibility["truncation_side"] != "left"  # RewardBench 2 keeps the tokenizer's side
        published = json.dumps([result.config, result.reproducibility])
        assert str(V2_SAMPLE.parent) not in published and str(tmp_path) not in published
        assert result.config["dataset"] == V2_SAMPLE.name


def test_the_worker_never_looks_for_a_model_on_its_disk(
    hub_endpoint: HubServer, db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    local = "tests/data"  # a directory on the worker, named like a Hub id
    assert Path(local).is_dir()
    submission_id = new_submission(db_session_factory, local)
    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path)
    assert run_submission(submission_id, settings, owner="test").status == "failed"
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert row.failure_kind == "model_not_found"
        assert row.failure_message == "tests/data: model not found on the Hub (or it is private)"
