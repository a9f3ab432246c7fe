from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.engine.conftest import SAMPLE
from worker.engine.results import load_results_file

Cli = Callable[[Sequence[str]], int]


def test_evaluate_writes_both_outputs(
    rewardboard: Cli, llama_bos_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results, per_example = tmp_path / "out" / "results.json", tmp_path / "out" / "per_example.jsonl"
    code = rewardboard(
        [
            "evaluate",
            str(llama_bos_template),
            "--dataset",
            str(SAMPLE),
            "--max-length",
            "512",
            "--batch-tokens",
            "4096",
            "--dtype",
            "float32",
            "--device",
            "cpu",
            "--output",
            str(results),
            "--per-example",
            str(per_example),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    for section in ("Chat", "Chat Hard", "Safety", "Reasoning", "Score"):
        assert section in captured.out
    assert "partial" in captured.out
    assert "scoring" in captured.err  # the progress bar

    document = json.loads(results.read_text())
    assert document["model_type"] == "Seq. Classifier" and document["chat_template"] == "tokenizer"
    assert document["reproducibility"]["dtype"] == "float32"
    assert f"{100 * document['score']:.1f}" in captured.out
    result = load_results_file(results)
    assert len(result.subset_scores) == 23

    lines = [json.loads(line) for line in per_example.read_text().splitlines()]
    assert len(lines) == 92
    assert set(lines[0]) == {
        "subset", "id", "scores", "num_correct", "outcome", "score_chosen", "score_rejected", "correct"
    }  # fmt: skip
    assert all(line["scores"] == [line["score_chosen"], line["score_rejected"]] for line in lines)
    assert all(line["correct"] == (line["score_chosen"] > line["score_rejected"]) for line in lines)
    assert all(line["outcome"] == float(line["correct"]) for line in lines)
    assert all(isinstance(line["id"], int) for line in lines)
    for name, score in result.subset_scores.items():
        rows = [line for line in lines if line["subset"] == name]
        assert score.value == sum(line["correct"] for line in rows) / len(rows)


def _bad_dataset(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    rows[3]["id"] = "four"
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("model", "extra", "reason"),
    [
        ("absent", [], "no such model directory"),
        ("three_labels", [], "has 3 labels; a reward model needs exactly one"),
        ("causal_lm", [], "with no sequence-classification head"),
        ("broken_tokenizer", [], "the tokenizer failed to load"),
        ("llama_template", ["--dataset", "BAD"], "row 4: column 'id' must be an integer, found str"),
        (
            "llama_template",
            ["--subsets", "hep-go,hep-fortran"],
            "unknown subset 'hep-fortran'; valid subsets: ",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    rewardboard: Cli,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    extra: list[str],
    reason: str,
) -> None:
    if model == "absent":
        model_dir = tmp_path / "absent"
    elif model == "broken_tokenizer":
        import shutil

        model_dir = shutil.copytree(request.getfixturevalue("llama_template"), tmp_path / "broken")
        (model_dir / "tokenizer.json").write_text("[]")
    else:
        model_dir = request.getfixturevalue(model)
    extra = [str(_bad_dataset(tmp_path)) if arg == "BAD" else arg for arg in extra]
    if "--dataset" not in extra:
        extra += ["--dataset", str(SAMPLE)]
    output = tmp_path / "results.json"
    code = rewardboard(["evaluate", str(model_dir), *extra, "--output", str(output), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and reason in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not output.exists()


def test_argument_errors_exit_2(rewardboard: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        rewardboard(["evaluate", "m", "--limit-per-subset", "0"])
    assert caught.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_unwritable_output_fails_before_the_run(
    rewardboard: Cli, llama_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "results.json"
    code = rewardboard(["evaluate", str(llama_template), "--output", str(target), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: cannot write {target}")
    assert err.count("\n") == 1
