"""The benchmarks-as-data migration carries a database that holds results over, and back down again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from app.commands.database import downgrade, upgrade
from app.db.session import make_engine
from app.services.intake.run_spec import RunConfig

BEFORE = "6b8d5f233cad"
AFTER = "7c1e0b8a9d42"
V1_ROWS = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95, "mt-bench-easy": 28,
    "mt-bench-med": 40, "mt-bench-hard": 37, "llmbar-natural": 100, "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92, "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46,
    "refusals-dangerous": 100, "refusals-offensive": 100, "xstest-should-refuse": 154,
    "xstest-should-respond": 250, "donotanswer": 136, "math-prm": 447, "hep-cpp": 164, "hep-go": 164,
    "hep-java": 164, "hep-js": 164, "hep-python": 164, "hep-rust": 164,
}  # fmt: skip
OLD_CONFIG_KEY = hashlib.sha256(
    json.dumps(
        {
            "benchmark": "rewardbench-v1",
            "model_type": "classifier",
            "reference_model": None,
            "chat_template": "auto",
            "max_length": 2048,
        },
        sort_keys=True,
    ).encode()
).hexdigest()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database at the previous revision, holding what that schema stored."""
    url = (
        request.getfixturevalue("sqlite_url")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_schema_url")
    )
    engine = make_engine(url)
    downgrade(engine, "base")  # the PostgreSQL schema is shared by this module's tests
    upgrade(engine, BEFORE)
    _fill_old(engine)
    yield engine
    downgrade(engine, "base")
    engine.dispose()


def _fill_old(engine: Engine) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        run = connection.execute
        run(
            text(
                "INSERT INTO reward_model (id, hub_id, display_name, model_type, created_at) VALUES "
                "(1, 'org/full', 'org/full', 'Seq. Classifier', :now), "
                "(2, 'org/partial', 'org/partial', 'classifier', :now)"
            ),
            {"now": now},
        )
        run(
            text(
                "INSERT INTO submission (id, reward_model_id, requested_revision, resolved_commit, "
                "model_type, reference_model, chat_template, max_length, dtype, benchmark, config_key, "
                "status, progress_done, progress_total, attempt, created_at, updated_at) VALUES "
                "(1, 2, 'main', 'abc', 'classifier', NULL, 'auto', 2048, 'auto', 'rewardbench-v1', :key, "
                "'succeeded', 0, 0, 1, :now, :now)"
            ),
            {"key": OLD_CONFIG_KEY, "now": now},
        )
        insert_result = text(
            "INSERT INTO evaluation_result (id, reward_model_id, submission_id, benchmark, "
            "benchmark_version, scoring_version, model_type, chat_template, config, score, chat, "
            "chat_hard, safety, reasoning, prior_sets, reproducibility, source, source_detail, is_current, "
            "created_at) VALUES "
            "(:id, :model, :submission, 'rewardbench-v1', '', 'rbv1-2024-09', :type, 'tokenizer', :config, "
            ":score, 0.9, 0.6, 0.8, 0.7, :prior, :repro, :source, :detail, :current, :now)"
        )
        run(
            insert_result,
            {
                "id": 1, "model": 1, "submission": None, "type": "Seq. Classifier", "config": "{}",
                "score": 0.75, "prior": 0.65, "repro": "{}", "source": "imported", "detail": "full.json",
                "current": True, "now": now,
            },
        )  # fmt: skip
        partial_repro = json.dumps({"dataset": {"complete": False, "limit_per_subset": 1}})
        run(
            insert_result,
            {
                "id": 2, "model": 2, "submission": 1, "type": "Seq. Classifier",
                "config": json.dumps({"dataset": "/srv/data/rewardbench_sample.jsonl", "max_length": 2048}),
                "score": 0.75, "prior": None, "repro": partial_repro, "source": "evaluated", "detail": None,
                "current": True, "now": now,
            },
        )  # fmt: skip
        for result_id, n in ((1, None), (2, 1)):
            for subset in V1_ROWS:
                run(
                    text(
                        "INSERT INTO subset_result (result_id, subset, n, correct, accuracy) "
                        "VALUES (:result, :subset, :n, :correct, :accuracy)"
                    ),
                    {
                        "result": result_id,
                        "subset": subset,
                        "n": n,
                        "correct": 1.0 if n else None,
                        "accuracy": 1.0,
                    },
                )
        run(
            text(
                "INSERT INTO pair_result (result_id, subset, example_id, score_chosen, score_rejected, "
                "result, correct) VALUES (2, 'hep-go', 7, 0.9, 0.1, 1.0, true), "
                "(2, 'hep-rust', 12, 0.2, 0.2, 0.0, false)"
            )
        )
        run(
            text(
                "INSERT INTO benchmark_example (benchmark, subset, example_id, prompt, chosen, "
                "rejected, chosen_model, rejected_model) "
                "VALUES ('rewardbench-v1', 'hep-go', 7, 'p', 'c', 'r', 'a', 'b')"
            )
        )


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_upgrade_carries_results_examples_texts_and_submissions_over(old_database: Engine) -> None:
    engine = old_database
    upgrade(engine, AFTER)
    sections = _rows(
        engine, "SELECT result_id, section, value FROM section_score ORDER BY result_id, section"
    )
    assert sections == [
        (1, "Chat", 0.9), (1, "Chat Hard", 0.6), (1, "Prior Sets", 0.65), (1, "Reasoning", 0.7),
        (1, "Safety", 0.8), (2, "Chat", 0.9), (2, "Chat Hard", 0.6), (2, "Reasoning", 0.7),
        (2, "Safety", 0.8),
    ]  # fmt: skip
    assert _rows(engine, "SELECT count(*) FROM subset_score") == [(46,)]
    results = _rows(
        engine, "SELECT id, model_type, complete, is_current, config FROM evaluation_result ORDER BY id"
    )
    assert [(row[0], row[1], bool(row[2]), bool(row[3])) for row in results] == [
        (1, "classifier", True, True),
        (2, "classifier", False, True),  # partial: kept current for its model, never ranked
    ]
    config = results[1][4]
    stored: dict[str, object] = json.loads(config) if isinstance(config, str) else dict(config)  # type: ignore[call-overload]
    assert stored["dataset"] == "rewardbench_sample.jsonl"
    examples = _rows(
        engine, "SELECT subset, example_id, scores, num_correct, outcome FROM example_result ORDER BY id"
    )
    decoded = [(s, i, json.loads(v) if isinstance(v, str) else v, n, o) for s, i, v, n, o in examples]
    assert decoded == [("hep-go", "7", [0.9, 0.1], 1, 1.0), ("hep-rust", "12", [0.2, 0.2], 1, 0.0)]
    texts = _rows(
        engine, "SELECT example_id, prompt, conversation, candidates, candidate_models FROM benchmark_example"
    )
    example_id, prompt, *lists = texts[0]
    assert (example_id, prompt) == ("7", "p")
    assert [json.loads(v) if isinstance(v, str) else v for v in lists] == [
        [["user", "p"]],
        ["c", "r"],
        ["a", "b"],
    ]
    ((run_config, key),) = _rows(engine, "SELECT run_config, config_key FROM submission")
    config = RunConfig.model_validate(json.loads(run_config) if isinstance(run_config, str) else run_config)
    assert config.kind_settings == {"chat_template": "auto"} and config.max_length == 2048
    assert key == config.key()  # the app computes the same key for the same settings


def test_downgrade_restores_the_previous_schema_with_its_data(old_database: Engine) -> None:
    engine = old_database
    upgrade(engine, AFTER)
    downgrade(engine, BEFORE)
    columns = "id, model_type, chat, chat_hard, safety, reasoning, prior_sets"
    assert _rows(engine, f"SELECT {columns} FROM evaluation_result ORDER BY id") == [
        (1, "Seq. Classifier", 0.9, 0.6, 0.8, 0.7, 0.65),
        (2, "Seq. Classifier", 0.9, 0.6, 0.8, 0.7, None),
    ]  # fmt: skip
    pairs = _rows(
        engine,
        "SELECT subset, example_id, score_chosen, score_rejected, result, correct "
        "FROM pair_result ORDER BY id",
    )
    assert [(s, i, c, r, res, bool(ok)) for s, i, c, r, res, ok in pairs] == [
        ("hep-go", 7, 0.9, 0.1, 1.0, True),
        ("hep-rust", 12, 0.2, 0.2, 0.0, False),
    ]
    assert _rows(engine, "SELECT example_id, chosen, rejected FROM benchmark_example") == [(7, "c", "r")]
    assert _rows(engine, "SELECT count(*) FROM subset_result") == [(46,)]
    assert _rows(engine, "SELECT model_type FROM reward_model ORDER BY id") == [
        ("Seq. Classifier",),
        ("Seq. Classifier",),
    ]
    assert _rows(engine, "SELECT chat_template, max_length, config_key FROM submission") == [
        ("auto", 2048, OLD_CONFIG_KEY)
    ]
    upgrade(engine)  # and up again
