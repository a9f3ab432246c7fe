from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.engine.conftest import SAMPLE
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.errors import DatasetError, InvalidSpecError
from worker.engine.runner import EvaluationOutput, EvaluationSpec, run_evaluation

V1 = get_benchmark("rewardbench-v1")


def test_run_on_the_sample(llama_template: Path) -> None:
    calls: list[tuple[int, int]] = []
    spec = EvaluationSpec(model=str(llama_template), dataset=str(SAMPLE), max_length=512, batch_tokens=4096)
    output = run_evaluation(spec, lambda done, total: calls.append((done, total)))
    assert isinstance(output, EvaluationOutput)
    result = output.result
    assert len(output.examples) == len(output.scored) == 92
    assert calls[-1] == (92, 92)
    assert (result.model, result.model_type, result.chat_template, result.benchmark) == (
        str(llama_template),
        "classifier",
        "tokenizer",
        "rewardbench-v1",
    )
    assert set(result.aggregate().sections) == {"Chat", "Chat Hard", "Safety", "Reasoning"}
    for name, tally in result.subset_scores.items():
        wins = sum(score.outcome or 0.0 for score in output.scored if score.subset == name)
        assert (tally.n, tally.correct, tally.value) == (4, wins, wins / 4)
    for example, scored in zip(output.examples, output.scored, strict=True):
        chosen, rejected = scored.scores
        assert scored.key == example.key and chosen is not None and rejected is not None
        assert scored.outcome == (1.0 if chosen > rejected else 0.0)
    record = result.reproducibility
    dataset = load_dataset(V1, str(SAMPLE))
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
        "truncation_side",
    ):
        assert key in record
    assert {"torch", "transformers", "datasets", "python"} <= set(record["libraries"])
    assert record["max_length"] == 512 and record["batch_tokens"] == 4096
    document = result.to_json()
    assert document["reproducibility"] == record and document["score"] is not None
    assert document["model_type"] == "Seq. Classifier" and record["truncation_side"] == "left"


def test_subsets_and_limit(llama_no_template: Path) -> None:
    spec = EvaluationSpec(
        model=str(llama_no_template),
        dataset=str(SAMPLE),
        subsets=("hep-go", "donotanswer"),
        limit_per_subset=2,
        max_length=256,
    )
    output = run_evaluation(spec)
    assert sorted(score.subset for score in output.scored) == ["donotanswer"] * 2 + ["hep-go"] * 2
    assert output.result.chat_template == "tulu"
    assert output.result.aggregate().score is None
    assert (
        output.result.reproducibility["dataset"]["selection_fingerprint"]
        != load_dataset(V1, str(SAMPLE)).fingerprint
    )


def test_dataset_is_checked_before_the_model_is_loaded(tmp_path: Path) -> None:
    spec = EvaluationSpec(model=str(tmp_path / "no-model"), dataset=str(SAMPLE), subsets=("nope",))
    with pytest.raises(DatasetError, match="unknown subset 'nope'"):
        run_evaluation(spec)


def test_unknown_model_type_and_benchmark(llama_template: Path) -> None:
    with pytest.raises(InvalidSpecError, match="unknown model type 'reranker'; known: classifier"):
        run_evaluation(EvaluationSpec(model=str(llama_template), dataset=str(SAMPLE), model_type="reranker"))
    with pytest.raises(InvalidSpecError, match="unknown benchmark 'rewardbench-v9'; known: rewardbench-v1"):
        run_evaluation(EvaluationSpec(model=str(llama_template), benchmark="rewardbench-v9"))


def test_same_inputs_same_decisions(gpt2_no_template: Path) -> None:
    spec = EvaluationSpec(model=str(gpt2_no_template), dataset=str(SAMPLE), limit_per_subset=1)
    first, second = run_evaluation(spec), run_evaluation(spec)
    assert first.scored == second.scored


def test_the_subset_being_scored_is_reported(llama_template: Path) -> None:
    """Small batches: the runner names the subset most of each batch's finished examples come from."""
    calls: list[tuple[int, int]] = []
    subsets: list[str] = []
    spec = EvaluationSpec(model=str(llama_template), dataset=str(SAMPLE), max_length=256, batch_tokens=256)
    output = run_evaluation(spec, lambda done, total: calls.append((done, total)), on_subset=subsets.append)
    assert calls[-1] == (92, 92)
    names = {example.subset for example in output.examples}
    assert subsets and set(subsets) <= names
    assert len(set(subsets)) > 1  # batches sorted by length span several subsets over the run
    assert all(first != second for first, second in itertools.pairwise(subsets))  # changes only
