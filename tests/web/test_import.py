"""Importing result files of every format, with per-example scores and texts; one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.commands import import_results
from app.db.models import BenchmarkExample, EvaluationResult, ExampleResult, ResultSource, SectionScore
from app.services.results.importer import ResultsImportError, import_results_file
from tests.web.conftest import PUBLISHED
from tests.web.factories import SAMPLE, V1, accuracies_of, sample_pairs, scores_for


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
                "score_chosen": s.scores[0],
                "score_rejected": s.scores[1],
                "correct": s.correct,
            }
        )
        for s in scores
    ]
    per_example.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results, per_example


def _sections(session: Session, result_id: int) -> dict[str, float]:
    statement = select(SectionScore.section, SectionScore.value).where(SectionScore.result_id == result_id)
    return {section: value for section, value in session.execute(statement)}


def test_import_published_eval_set_files(db_session: Session) -> None:
    outcomes = [import_results_file(db_session, path) for path in PUBLISHED]
    assert len(outcomes) == 5
    for path, outcome in zip(PUBLISHED, outcomes, strict=True):
        document = json.loads(path.read_text())
        values = {key: value for key, value in document.items() if V1.subset(key) is not None}
        assert outcome.score == pytest.approx(V1.aggregate(values).score)
        row = db_session.get(EvaluationResult, outcome.result_id)
        assert row is not None
        assert row.source == ResultSource.IMPORTED and row.source_detail == path.name and row.is_current
        assert row.complete and row.model_type in ("classifier", "custom-classifier")


def test_import_results_json_with_per_example_and_texts(db_session: Session, tmp_path: Path) -> None:
    results, per_example = _write_results_json(tmp_path)
    outcome = import_results_file(db_session, results, per_example=per_example, texts=sample_pairs())
    row = db_session.get(EvaluationResult, outcome.result_id)
    assert row is not None
    expected = V1.aggregate(accuracies_of(scores_for(sample_pairs())))
    assert row.score == pytest.approx(expected.score)
    assert _sections(db_session, row.id)["Chat"] == pytest.approx(expected.sections["Chat"])  # not the file's
    assert row.reproducibility["dtype"] == "bfloat16"
    assert outcome.examples == 92
    assert not row.complete  # 4 rows a subset, counted from the per-example file: never ranked
    assert db_session.scalar(select(func.count()).select_from(ExampleResult)) == 92
    assert db_session.scalar(select(func.count()).select_from(BenchmarkExample)) == 92


def test_importing_the_same_file_twice_stores_one_result(db_session: Session, tmp_path: Path) -> None:
    first = import_results_file(db_session, PUBLISHED[0])
    again = import_results_file(db_session, PUBLISHED[0])
    assert again.result_id == first.result_id
    assert db_session.scalar(select(func.count()).select_from(EvaluationResult)) == 1
    changed = tmp_path / PUBLISHED[0].name
    document = json.loads(PUBLISHED[0].read_text())
    document["hep-go"] = 0.5
    changed.write_text(json.dumps(document), encoding="utf-8")
    assert import_results_file(db_session, changed).result_id != first.result_id  # new content, new result


V1_FILE = {"model": "a/b", "hep-go": 0.5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid JSON"),
        (b'{"model": "a/b"}', "no subset values of any known benchmark"),
        (b'{"model": "a/b", "hep-go": 1.5}', "outside [0, 1]"),
        (b'{"model": "a/b", "hep-go": "high"}', "non-numeric"),
        (b'{"model": "a/b", "hep-go": Infinity}', "outside [0, 1]"),
        (b'{"hep-go": 0.5}', "missing the 'model' field"),
        (b'{"model": "noorg", "hep-go": 0.5}', "org/name"),
        (b'{"model": "a//b", "hep-go": 0.5}', "not a valid Hub model id"),
        (b'{"model": "a/b\\nc", "hep-go": 0.5}', "control characters"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xff\xfe{", "not UTF-8"),
        (json.dumps({**V1_FILE, "scoring_version": "rbv1-1999"}).encode(), "unknown scoring version"),
        (json.dumps({**V1_FILE, "scoring_version": 3}).encode(), "'scoring_version' must be a string"),
        (json.dumps({**V1_FILE, "benchmark": "rewardbench-v9"}).encode(), "unknown benchmark"),
        (json.dumps({**V1_FILE, "model_type": "Oracle"}).encode(), "unknown model type"),
        (
            json.dumps({**V1_FILE, "counts": {"hep-go": {"n": "4", "correct": 2}}}).encode(),
            "n must be a whole",
        ),
        (
            json.dumps({**V1_FILE, "counts": {"hep-go": {"n": -4, "correct": 2}}}).encode(),
            "n must be a whole",
        ),
        (json.dumps({**V1_FILE, "counts": {"hep-go": {"n": 999, "correct": 2}}}).encode(), "from 1 to 164"),
        (json.dumps({**V1_FILE, "counts": {"hep-go": {"n": 4, "correct": 9}}}).encode(), "from 0 to n"),
        (json.dumps({**V1_FILE, "counts": {"hep-go": {"n": 4, "correct": 3}}}).encode(), "is not its value"),
        (json.dumps({**V1_FILE, "counts": {"hep-go": 4}}).encode(), "must be an object"),
        (json.dumps({**V1_FILE, "counts": {"nope": {"n": 1}}}).encode(), "unknown subset 'nope'"),
    ],
)
def test_bad_results_files_say_why_in_one_line(
    db_session: Session, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ResultsImportError) as info:
        import_results_file(db_session, path)
    assert message in info.value.message
    assert "\n" not in info.value.message and "bad.json" in info.value.message
    assert str(tmp_path) not in info.value.message


def test_per_example_must_agree_with_results(db_session: Session, tmp_path: Path) -> None:
    results, per_example = _write_results_json(tmp_path)
    lines = per_example.read_text().splitlines()
    first = json.loads(lines[0])
    first.update(score_chosen=0.0, score_rejected=1.0)
    per_example.write_text("\n".join([json.dumps(first), *lines[1:]]), encoding="utf-8")
    with pytest.raises(ResultsImportError, match="disagrees"):
        import_results_file(db_session, results, per_example=per_example)
    for line, message in (
        ('{"subset": "nope", "id": 1, "correct": true}', "per_example.jsonl:1: unknown subset"),
        ('{"subset": "hep-go", "id": 1, "scores": [Infinity, 0.1]}', "not a finite number"),
        ('{"subset": "hep-go", "id": 1, "scores": [0.2, 0.1], "outcome": 2}', "outcome must be in [0, 1]"),
        ('{"subset": "hep-go", "id": true, "correct": true}', "'id' must be an integer or a string"),
    ):
        per_example.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(ResultsImportError, match=message.replace("[", r"\[")):
            import_results_file(db_session, results, per_example=per_example)


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
        args = argparse.Namespace(
            paths=[results], per_example=per_example, dataset=SAMPLE, benchmark="rewardbench-v1", board=False
        )
        assert import_results.run(args) == 0
        assert "acme/rm-7b" in capsys.readouterr().out
        bad = tmp_path / "bad.json"
        bad.write_text("{}", encoding="utf-8")
        args = argparse.Namespace(
            paths=[*PUBLISHED, bad], per_example=None, dataset=None, benchmark="rewardbench-v1", board=False
        )
        assert import_results.run(args) == 1
        error = capsys.readouterr().err.strip()
        assert error.startswith("import-results:") and "bad.json" in error and "\n" not in error
    finally:
        get_settings.cache_clear()
    with db_session_factory() as session:
        # the failing batch left nothing behind: only the first command's result is stored
        assert session.scalar(select(func.count()).select_from(EvaluationResult)) == 1
