"""Our DPO decisions equal upstream run_dpo.py's on the same pairs (golden values from
bench/compare_dpo_reference.py, which ran the rewardbench package's DPOInference on these very models)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.support.dpo_cases import CASES, GOLDEN, build_case, files_digest, ids_digest, write_dataset
from worker.engine.adapters.dpo import upstream_tokenizer
from worker.engine.adapters.hf_loading import load_tokenizer
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.dpo_tokens import candidate_sequences
from worker.engine.formatting import resolve_template
from worker.engine.runner import run_evaluation
from worker.engine.spec import EvaluationSpec

GOLDEN_CASES = {case["name"]: case for case in json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]}
ATOL = 2e-3  # see bench/compare_dpo_reference.py: float32 sums of up to 2048 log-probabilities


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("dpo-data") / "data.jsonl")


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_dpo_decisions_equal_upstreams(name: str, dataset: Path, tmp_path: Path) -> None:
    golden = GOLDEN_CASES[name]
    built = build_case(CASES[name], tmp_path)
    assert files_digest(built.policy) == golden["policy_digest"], (
        "the tiny-model builder no longer gives the models the golden values were made with; regenerate "
        "them with bench/compare_dpo_reference.py --write-golden"
    )
    if built.reference is not None:
        assert files_digest(built.reference) == golden["reference_digest"]
    spec = EvaluationSpec(
        model=str(built.policy),
        model_type=built.case.model_type,
        kind_settings=built.case.kind_settings(built.reference),
        dataset=str(dataset),
        dtype="float32",
        device="cpu",
    )
    output = run_evaluation(spec)
    scored = {example.key: example for example in output.scored}
    tokenizer = upstream_tokenizer(load_tokenizer(built.policy, name), name)
    template = resolve_template(tokenizer, "auto")
    examples = {example.key: example for example in load_dataset(get_benchmark(), str(dataset)).examples}
    assert len(golden["pairs"]) == len(scored) == 95
    for pair in golden["pairs"]:
        key = (pair["subset"], str(pair["id"]))
        ours = scored[key]
        assert int(ours.outcome or 0) == pair["result"], key
        chosen_score, rejected_score = (float(score or 0.0) for score in ours.scores)
        assert math.isclose(chosen_score, pair["score_chosen"], abs_tol=ATOL), key
        assert math.isclose(rejected_score, pair["score_rejected"], abs_tol=ATOL), key
        example = examples[key]
        chosen, rejected = candidate_sequences(
            tokenizer,
            template,
            example.conversation,
            example.candidates,
            bos_id=tokenizer.bos_token_id,
            eos_id=tokenizer.eos_token_id,
        )
        sides: list[tuple[Any, str]] = [(chosen, "chosen"), (rejected, "rejected")]
        for sequence, side in sides:
            assert ids_digest(list(sequence.ids)) == pair[f"ids_{side}"], (key, side)
            assert sequence.response_start == pair[f"start_{side}"], (key, side)
    values = {subset: score.value for subset, score in output.result.subset_scores.items()}
    assert values == pytest.approx(golden["accuracies"], abs=1e-12)
    assert output.result.reproducibility["tokenization"]["truncation_mode"] == "keep_end"
