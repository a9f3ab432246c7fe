"""RewardBench 2 end to end on the committed sample, against values upstream's own functions produced.

``tests/data/rewardbench2_golden.json`` holds, per scenario, candidate scores for every prompt of the sample
and what rewardbench 0.1.4's ``reroll_and_score_dataset`` / ``process_single_model`` and upstream HEAD's
``process_single_model`` made of them (written by bench/compare_reference_v2.py --write-golden).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import GOLDEN_V2, SAMPLE_V2
from tests.support.tiny_models import PLAIN_TEMPLATE, build_tiny_classifier, build_tokenizer
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.rewardbench_v2 import SCORING_V2_HEAD, SCORING_V2_WHEEL, TIES
from worker.engine.dataset import load_dataset, select_examples
from worker.engine.errors import DatasetError
from worker.engine.results import load_results_file
from worker.engine.types import ScoredExample

V2 = get_benchmark("rewardbench-v2")
SIX = ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")
EXACT = 1e-9
Cli = Callable[[Sequence[str]], int]


def _golden() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GOLDEN_V2.read_text(encoding="utf-8"))
    return document


def _scenario(name: str) -> dict[str, Any]:
    scenario: dict[str, Any] = next(s for s in _golden()["scenarios"] if s["name"] == name)
    return scenario


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE_V2.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _check_against_upstream(scored: list[ScoredExample], upstream: dict[str, Any], tolerance: float) -> None:
    for example in scored:
        if example.subset == TIES:
            assert example.outcome is None
        else:
            assert example.outcome == pytest.approx(
                upstream["results"][f"{example.subset}/{example.id}"], abs=EXACT
            )
    head = V2.subset_scores(scored, SCORING_V2_HEAD)
    wheel = V2.subset_scores(scored, SCORING_V2_WHEEL)
    for name, value in upstream["values"].items():
        assert head[name].value == pytest.approx(value, abs=tolerance)
        assert wheel[name].value == head[name].value
    assert head[TIES].value == pytest.approx(upstream["ties"]["head"], abs=tolerance)
    assert wheel[TIES].value == pytest.approx(upstream["ties"]["0.1.4"], abs=tolerance)


def test_the_golden_values_belong_to_the_committed_sample() -> None:
    golden = _golden()
    assert golden["dataset"]["sha256"] == hashlib.sha256(SAMPLE_V2.read_bytes()).hexdigest()
    keys = {(row["subset"], row["id"]) for row in _rows()}
    for scenario in golden["scenarios"]:
        assert {(row["subset"], row["id"]) for row in scenario["rows"]} == keys


@pytest.mark.parametrize("name", ["edge-cases", "llama-template", "gpt2-tulu"])
def test_decisions_and_subset_values_equal_upstreams_functions(name: str) -> None:
    scenario = _scenario(name)
    scored = [
        ScoredExample(
            row["subset"],
            row["id"],
            tuple(row["scores"]),
            row["num_correct"],
            V2.decide(row["subset"], row["scores"], row["num_correct"], "strict"),
        )
        for row in scenario["rows"]
    ]
    _check_against_upstream(scored, scenario["upstream"], EXACT)


def test_edge_cases_reach_every_branch_of_the_rules() -> None:
    results = _scenario("edge-cases")["upstream"]["results"]
    assert {0.0, 1.0, 0.5, 1 / 3, 0.25} <= set(results.values())
    ties = _scenario("edge-cases")["upstream"]["ties"]
    assert ties["head"] != ties["0.1.4"]  # zero spreads with a non-zero gap: the two rules part


@pytest.fixture(scope="module")
def golden_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model the golden scenario 'llama-template' was scored with (see its "source")."""
    tokenizer = copy.deepcopy(build_tokenizer())
    tokenizer.chat_template = PLAIN_TEMPLATE
    return build_tiny_classifier(
        tmp_path_factory.mktemp("golden") / "llama-template",
        arch="llama",
        chat_template=PLAIN_TEMPLATE,
        seed=1,
        tokenizer=tokenizer,
    )


def test_a_tiny_classifier_on_the_sample_gives_upstreams_results(
    rewardboard: Cli, golden_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = golden_model
    results, per_example = tmp_path / "results.json", tmp_path / "per_example.jsonl"
    argv = ["evaluate", str(model), "--benchmark", "rewardbench-v2", "--dataset", str(SAMPLE_V2)]
    argv += ["--dtype", "float32", "--device", "cpu", "--no-progress"]
    code = rewardboard([*argv, "--output", str(results), "--per-example", str(per_example)])
    out = capsys.readouterr().out
    assert code == 0
    for name in (*SIX, "Score"):
        assert name in out

    scenario = _scenario("llama-template")
    expected_scores = {(row["subset"], row["id"]): row["scores"] for row in scenario["rows"]}
    lines = [json.loads(line) for line in per_example.read_text().splitlines()]
    assert len(lines) == 25
    scored = []
    for line in lines:
        assert set(line) == {"subset", "id", "scores", "num_correct", "outcome"}
        assert isinstance(line["id"], str)
        assert line["scores"] == pytest.approx(expected_scores[(line["subset"], line["id"])], abs=1e-5)
        if line["subset"] == TIES:
            assert line["outcome"] is None
        scored.append(
            ScoredExample(
                line["subset"], line["id"], tuple(line["scores"]), line["num_correct"], line["outcome"]
            )
        )
    _check_against_upstream(scored, scenario["upstream"], 1e-6)

    document = json.loads(results.read_text())
    assert [key for key in document if key in SIX] == list(SIX)
    assert document["scoring_version"] == SCORING_V2_HEAD
    assert document["benchmark"] == "rewardbench-v2"
    assert document["score"] == pytest.approx(sum(document[name] for name in SIX) / 6)
    assert document["counts"]["Ties"] == {"n": 10, "correct": None}
    record = document["reproducibility"]
    assert record["truncation_side"] == "right"  # the tokenizer's own side, as run_v2.py leaves it
    assert record["max_length"] == 2048 and record["chat_template"] == "tokenizer"
    assert record["dataset"]["revision"] is None and record["dataset"]["rows"] == 25
    assert load_results_file(results).values == {name: document[name] for name in SIX}


def test_evaluate_under_the_wheels_ties_rule_records_it(
    rewardboard: Cli, golden_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    argv = ["evaluate", str(golden_model), "--benchmark", "rewardbench-v2", "--dataset", str(SAMPLE_V2)]
    argv += ["--dtype", "float32", "--device", "cpu", "--no-progress", "--output", str(results)]
    assert rewardboard([*argv, "--scoring-version", SCORING_V2_WHEEL]) == 0
    document = json.loads(results.read_text())
    assert document["scoring_version"] == SCORING_V2_WHEEL
    assert document["Ties"] == pytest.approx(
        _scenario("llama-template")["upstream"]["ties"]["0.1.4"], abs=1e-6
    )
    assert load_results_file(results).aggregate().scoring_version == SCORING_V2_WHEEL
    capsys.readouterr()
    assert rewardboard([*argv, "--scoring-version", "rbv1-2024-09"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "error: rewardbench-v2: unknown scoring version 'rbv1-2024-09'; known: rbv2-head, rbv2-0.1.4\n"
    )


def _eval_set_file(tmp_path: Path, **values: float) -> Path:
    document = {"model": "org/rm", "model_type": "Seq. Classifier", "chat_template": "tokenizer", **values}
    path = tmp_path / "rm.json"
    path.write_text(json.dumps(document))
    return path


def test_aggregate_reads_upstream_v2_eval_set_files(
    rewardboard: Cli, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    values = {"Factuality": 0.7, "Focus": 0.9, "Math": 0.6, "Precise IF": 0.4, "Safety": 0.8, "Ties": 1.01}
    path = _eval_set_file(tmp_path, **values)
    assert rewardboard(["aggregate", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["benchmark"] == "rewardbench-v2"
    assert document["scoring_version"] == SCORING_V2_HEAD
    assert document["sections"] == pytest.approx(values)
    assert document["score"] == pytest.approx(sum(values.values()) / 6)

    partial = _eval_set_file(tmp_path, Factuality=0.7, Math=0.6)
    assert rewardboard(["aggregate", str(partial)]) == 0
    assert json.loads(capsys.readouterr().out)["score"] is None


@pytest.mark.parametrize(
    ("values", "extra", "reason"),
    [
        ({"Ties": 1.2}, [], "subset 'Ties' value 1.2 is outside [-0.01, 1.01]"),
        ({"Math": 1.01}, [], "subset 'Math' value 1.01 is outside [0, 1]"),
        (
            {"Math": 0.5},
            ["--scoring-version", SCORING_V2_WHEEL],
            "its subset values follow rbv2-head (ties-head); rbv2-0.1.4 computes them differently",
        ),
    ],
)
def test_aggregate_refuses_what_it_cannot_honour(
    rewardboard: Cli,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    values: dict[str, float],
    extra: list[str],
    reason: str,
) -> None:
    assert rewardboard(["aggregate", str(_eval_set_file(tmp_path, **values)), *extra]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1


def test_the_definition() -> None:
    core = V2.part("core")
    assert core is not None
    assert (core.dataset_id, core.split, core.revision) == (
        "allenai/reward-bench-2",
        "test",
        "7ff08853b0d5686e79b13fda8677024f566a104a",
    )
    assert V2.subset_names == SIX
    assert [section.name for section in V2.score_sections()] == list(SIX)
    assert sum(subset.rows for subset in V2.subsets) == 1865
    assert {subset.name: subset.rows for subset in V2.subsets} == {
        "Factuality": 475, "Precise IF": 160, "Math": 183, "Safety": 450, "Focus": 495, "Ties": 102
    }  # fmt: skip
    assert V2.truncation_side == "tokenizer"


def test_the_sample_loads_as_the_real_schema() -> None:
    dataset = load_dataset(V2, str(SAMPLE_V2))
    assert not dataset.complete
    counts = Counter(example.subset for example in dataset.examples)
    assert counts == {"Factuality": 3, "Precise IF": 3, "Math": 3, "Safety": 3, "Focus": 3, "Ties": 10}
    tied = next(example for example in dataset.examples if example.id == "tied:1")
    row = next(row for row in _rows() if row["id"] == "tied:1")
    assert tied.candidates == (*row["chosen"], *row["rejected"]) and tied.num_correct == 10
    assert tied.conversation == (("user", row["prompt"]),)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda row: row.pop("total_completions"), "missing column(s) total_completions"),
        (lambda row: row.update(id=1001), "column 'id' must be a string, found int"),
        (lambda row: row.update(num_correct=2), "num_correct is 2, but chosen has 1 and rejected 3 answers"),
        (lambda row: row.update(total_completions=5), "total_completions is 5"),
        (
            lambda row: row.update(subset="Chat"),
            "unknown subset 'Chat'; RewardBench 2 has Factuality, Precise IF",
        ),
        (lambda row: row.update(chosen="x"), "column 'chosen' must be a list of strings, found str"),
        (lambda row: row.update(models=None), "column 'models' must be a list, found null"),
        (
            lambda row: row.update(chosen=[], num_correct=0, total_completions=3),
            "'chosen' is empty; a prompt needs at least one correct answer",
        ),
    ],
)
def test_schema_errors_say_what_is_wrong(tmp_path: Path, mutate: Any, reason: str) -> None:
    rows = _rows()
    mutate(rows[0])
    with pytest.raises(DatasetError) as caught:
        load_dataset(V2, str(_write(tmp_path / "bad.jsonl", rows)))
    assert "row 1: " + reason in caught.value.message


@pytest.mark.parametrize(
    ("row_id", "change", "reason"),
    [
        ("ref:1", {"id": "reference:1"}, "a Ties id is ref:<number> or tied:<number>, found 'reference:1'"),
        ("tied:6", {"id": "tied:01"}, "a second Ties prompt tied:1"),
        ("ref:5", {"id": "ref:01"}, "a second Ties prompt ref:1"),
        (
            "tied:6",
            {"chosen": ["Red"], "num_correct": 1, "total_completions": 5},
            "a tied: prompt needs at least two correct answers",
        ),
        (
            "ref:5",
            {"rejected": [], "num_incorrect": 0, "total_completions": 1},
            "a Ties prompt needs at least one rejected answer",
        ),
    ],
)
def test_ties_rows_are_checked(tmp_path: Path, row_id: str, change: dict[str, Any], reason: str) -> None:
    rows = [row | change if row["id"] == row_id else row for row in _rows()]
    with pytest.raises(DatasetError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(V2, str(_write(tmp_path / "bad.jsonl", rows)))


def test_a_per_subset_limit_draws_linked_ties_prompts_together(tmp_path: Path) -> None:
    # As in the real set, every Ties prompt has its partner (the sample's unlinked ref:5 and tied:6 left out).
    rows = [row for row in _rows() if row["id"] not in ("ref:5", "tied:6")]
    examples = load_dataset(V2, str(_write(tmp_path / "linked.jsonl", rows))).examples
    for seed in range(8):
        picked = select_examples(V2, examples, limit_per_subset=2, seed=seed)
        counts = Counter(example.subset for example in picked)
        assert all(counts[name] == 2 for name in SIX[:5])
        ties = sorted(str(example.id) for example in picked if example.subset == TIES)
        pids = {name.split(":")[1] for name in ties}
        assert len(pids) == 2 and ties == sorted(f"{kind}:{pid}" for pid in pids for kind in ("ref", "tied"))


def test_a_selection_without_a_linked_pair_is_refused_before_the_model(tmp_path: Path) -> None:
    rows = [row for row in _rows() if row["subset"] != TIES or row["id"] in ("ref:1", "tied:2", "ref:5")]
    examples = load_dataset(V2, str(_write(tmp_path / "unlinked.jsonl", rows))).examples
    with pytest.raises(DatasetError, match="no ref:<n> prompt has its tied:<n> prompt"):
        select_examples(V2, examples)
    assert select_examples(V2, examples, subsets=["Math"])  # without Ties nothing is missing
    # A draw of unlinked prompts only is refused the same way.
    full = load_dataset(V2, str(SAMPLE_V2)).examples
    refused = 0
    for seed in range(20):
        try:
            select_examples(V2, full, subsets=[TIES], limit_per_subset=1, seed=seed)
        except DatasetError:
            refused += 1
    assert 0 < refused < 20


def test_the_pinned_hub_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls: list[tuple[str, str | None, str | None]] = []

    def fake_load(repo_id: str, *, split: str | None, revision: str | None) -> Any:
        calls.append((repo_id, split, revision))
        return datasets.Dataset.from_list(_rows())

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    with pytest.raises(DatasetError, match="expected all 1865 rows of the pinned revision, found 25"):
        load_dataset(V2, None)
    assert calls == [("allenai/reward-bench-2", "test", "7ff08853b0d5686e79b13fda8677024f566a104a")]
    loaded = load_dataset(V2, "someone/rb2-copy@abc")
    assert loaded.fingerprint == load_dataset(V2, str(SAMPLE_V2)).fingerprint  # parquet-typed rows too
