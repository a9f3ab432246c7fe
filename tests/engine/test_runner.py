from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.conftest import SAMPLE
from worker.engine.benchmark import SECTIONS
from worker.engine.dataset import load_dataset
from worker.engine.errors import DatasetError, InvalidSpecError
from worker.engine.runner import EvaluationOutput, EvaluationSpec, run_evaluation


def test_run_on_the_sample(llama_template: Path) -> None:
    calls: list[tuple[int, int]] = []
    spec = EvaluationSpec(model=str(llama_template), dataset=str(SAMPLE), max_length=512, batch_tokens=4096)
    output = run_evaluation(spec, lambda done, total: calls.append((done, total)))
    assert isinstance(output, EvaluationOutput)
    result = output.result
    assert len(output.pairs) == len(output.pair_scores) == 92
    assert calls[-1] == (92, 92)
    assert (result.model, result.model_type, result.chat_template) == (
        str(llama_template),
        "Seq. Classifier",
        "tokenizer",
    )
    assert set(result.aggregate().sections) == set(SECTIONS)
    for name, tally in result.counts.items():
        wins = sum(score.result for score in output.pair_scores if score.subset == name)
        assert (tally.n, tally.correct, result.accuracies[name]) == (4, wins, wins / 4)
    record = result.reproducibility
    dataset = load_dataset(str(SAMPLE))
    assert record["dataset"]["fingerprint"] == dataset.fingerprint
    assert record["dataset"]["complete"] is False
    for key in (
        "model",
        "revision",
        "resolved_commit",
        "local_files_sha256",
        "max_length",
        "dtype",
        "device",
        "chat_template",
        "batch_tokens",
        "libraries",
        "code",
        "wall_time_s",
    ):
        assert key in record
    assert {"torch", "transformers", "datasets", "python"} <= set(record["libraries"])
    assert record["max_length"] == 512 and record["batch_tokens"] == 4096
    document = result.to_json()
    assert document["reproducibility"] == record and document["score"] is not None


def test_subsets_and_limit(llama_no_template: Path) -> None:
    spec = EvaluationSpec(
        model=str(llama_no_template),
        dataset=str(SAMPLE),
        subsets=("hep-go", "donotanswer"),
        limit_per_subset=2,
        max_length=256,
    )
    output = run_evaluation(spec)
    assert sorted(score.subset for score in output.pair_scores) == ["donotanswer"] * 2 + ["hep-go"] * 2
    assert output.result.chat_template == "tulu"
    assert output.result.aggregate().score is None
    assert (
        output.result.reproducibility["dataset"]["selection_fingerprint"]
        != load_dataset(str(SAMPLE)).fingerprint
    )


def test_dataset_is_checked_before_the_model_is_loaded(tmp_path: Path) -> None:
    spec = EvaluationSpec(model=str(tmp_path / "no-model"), dataset=str(SAMPLE), subsets=("nope",))
    with pytest.raises(DatasetError, match="unknown subset 'nope'"):
        run_evaluation(spec)


def test_unknown_model_type(llama_template: Path) -> None:
    with pytest.raises(InvalidSpecError, match="unknown model type 'dpo'; known: classifier"):
        run_evaluation(EvaluationSpec(model=str(llama_template), dataset=str(SAMPLE), model_type="dpo"))


def test_same_inputs_same_decisions(gpt2_no_template: Path) -> None:
    spec = EvaluationSpec(model=str(gpt2_no_template), dataset=str(SAMPLE), limit_per_subset=1)
    first, second = run_evaluation(spec), run_evaluation(spec)
    assert first.pair_scores == second.pair_scores
