"""Importing both result formats, with per-example scores and benchmark texts; clear errors for bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.commands import import_results
from app.db.models import BenchmarkExample, EvaluationResult, PairResult, ResultSource
from app.services.importer import ResultsImportError, import_results_file, seed_if_empty
from tests.web.conftest import PUBLISHED
from tests.web.factories import SAMPLE, accuracies_of, sample_pairs, scores_for
from worker.engine.scoring import aggregate


def _write_results_json(tmp_path: Path) -> tuple[Path, Path]:
    pairs = sample_pairs()
    scores = scores_for(pairs)
    accuracies = accuracies_of(scores)
    document = {
        "model": "acme/rm-7b",
        "model_type": "Seq. Classifier",
        "chat_template": "tokenizer",
        **accuracies,
        "sections": {"Chat": 1.0},  # lies: must be ignored
        "score": 0.99,
        "scoring_version": "rbv1-2024-09",
        "benchmark": "rewardbench-v1",
        "reproducibility": {"torch": "2.13.0", "dtype": "bfloat16"},
    }
    results = tmp_path / "results.json"
    results.write_text(json.dumps(document), encoding="utf-8")
    per_example = tmp_path / "per_example.jsonl"
    lines = [
        json.dumps(
            {
                "subset": s.subset,
                "id": s.id,
                "score_chosen": s.score_chosen,
                "score_rejected": s.score_rejected,
                "correct": s.correct,
            }
        )
        for s in scores
    ]
    per_example.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results, per_example


def test_import_published_eval_set_files(db_session: Session) -> None:
    outcomes = [import_results_file(db_session, path) for path in PUBLISHED]
    assert len(outcomes) == 5
    for path, outcome in zip(PUBLISHED, outcomes, strict=True):
        document = json.loads(path.read_text())
        assert outcome.score == pytest.approx(aggregate(document).score)
        row = db_session.get(EvaluationResult, outcome.result_id)
        assert row is not None
        assert row.source == ResultSource.IMPORTED and row.source_detail == path.name and row.is_current


def test_import_results_json_with_per_example_and_texts(db_session: Session, tmp_path: Path) -> None:
    results, per_example = _write_results_json(tmp_path)
    outcome = import_results_file(db_session, results, per_example=per_example, texts=sample_pairs())
    row = db_session.get(EvaluationResult, outcome.result_id)
    assert row is not None
    expected = aggregate(accuracies_of(scores_for(sample_pairs())))
    assert row.score == pytest.approx(expected.score)
    assert row.chat == pytest.approx(expected.sections["Chat"])  # not the file's 1.0
    assert row.reproducibility["dtype"] == "bfloat16"
    assert outcome.pairs == 92
    assert db_session.scalar(select(func.count()).select_from(PairResult)) == 92
    assert db_session.scalar(select(func.count()).select_from(BenchmarkExample)) == 92


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"model": "a/b"}', "no RewardBench v1 subset accuracies"),
        ('{"model": "a/b", "hep-go": 1.5}', "outside [0, 1]"),
        ('{"model": "a/b", "hep-go": "high"}', "non-numeric"),
        ('{"hep-go": 0.5}', "missing the 'model' field"),
        ('{"model": "noorg", "hep-go": 0.5}', "org/name"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_results_files_say_why(db_session: Session, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ResultsImportError) as info:
        import_results_file(db_session, path)
    assert message in info.value.message
    assert "\n" not in info.value.message and "bad.json" in info.value.message


def test_per_example_must_agree_with_results(db_session: Session, tmp_path: Path) -> None:
    results, per_example = _write_results_json(tmp_path)
    lines = per_example.read_text().splitlines()
    first = json.loads(lines[0])
    first.update(score_chosen=0.0, score_rejected=1.0)
    per_example.write_text("\n".join([json.dumps(first), *lines[1:]]), encoding="utf-8")
    with pytest.raises(ResultsImportError, match="disagrees"):
        import_results_file(db_session, results, per_example=per_example)
    per_example.write_text('{"subset": "nope", "id": 1, "correct": true}\n', encoding="utf-8")
    with pytest.raises(ResultsImportError, match=r"per_example.jsonl:1: unknown subset"):
        import_results_file(db_session, results, per_example=per_example)


def test_seed_only_into_an_empty_database(db_session: Session) -> None:
    assert len(seed_if_empty(db_session)) == 5
    assert seed_if_empty(db_session) == []


def test_command_imports_and_reports(
    db_url: str,
    db_session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        results, per_example = _write_results_json(tmp_path)
        args = argparse.Namespace(paths=[results], per_example=per_example, dataset=SAMPLE)
        assert import_results.run(args) == 0
        assert "acme/rm-7b" in capsys.readouterr().out
        bad = tmp_path / "bad.json"
        bad.write_text("{}", encoding="utf-8")
        assert (
            import_results.run(argparse.Namespace(paths=[*PUBLISHED, bad], per_example=None, dataset=None))
            == 1
        )
        error = capsys.readouterr().err.strip()
        assert error.startswith("import-results:") and "bad.json" in error and "\n" not in error
    finally:
        get_settings.cache_clear()
    with db_session_factory() as session:
        # the failing batch left nothing behind: only the first command's result is stored
        assert session.scalar(select(func.count()).select_from(EvaluationResult)) == 1
