"""RewardBench v1's optional prior sets: upstream's combined rows, multi-turn prompts, their own section."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import PRIOR_SAMPLE, SAMPLE
from worker.engine.adapters.hf_loading import load_tokenizer
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.errors import DatasetError
from worker.engine.formatting import Encoder, render
from worker.engine.types import Message

V1 = get_benchmark("rewardbench-v1")
PRIOR = ("anthropic_helpful", "anthropic_hhh", "shp", "summarize")
CORE_SECTIONS = ("Chat", "Chat Hard", "Safety", "Reasoning")
Cli = Callable[[Sequence[str]], int]


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in PRIOR_SAMPLE.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_sample_loads_with_positional_roles_and_its_own_ids() -> None:
    dataset = load_dataset(V1, str(SAMPLE), extra_parts={"prior-sets": str(PRIOR_SAMPLE)})
    prior = [example for example in dataset.examples if example.subset in PRIOR]
    assert Counter(example.subset for example in prior) == dict.fromkeys(PRIOR, 3)
    assert dataset.parts == ("core", "prior-sets") and not dataset.complete
    by_key = {example.key: example for example in prior}
    multi = by_key[("anthropic_helpful", "0")]
    assert [role for role, _ in multi.conversation] == ["user", "assistant", "user"]
    assert multi.prompt == "I have peas and carrots."
    assert by_key[("anthropic_helpful", "2")].conversation[1] == ("assistant", "")
    assert {example.id for example in prior} == {0, 1, 2}  # ids repeat across splits: keyed by (subset, id)


def test_roles_go_by_position_whatever_the_rows_say(tmp_path: Path) -> None:
    rows = _rows()
    rows[0]["prompt"] = [
        {"role": "system", "content": "a"},
        {"role": "user", "content": "b"},
        {"content": "c"},
    ]
    dataset = load_dataset(
        V1, str(SAMPLE), extra_parts={"prior-sets": str(_write(tmp_path / "p.jsonl", rows))}
    )
    example = next(e for e in dataset.examples if e.key == ("anthropic_helpful", "0"))
    assert example.conversation == (("user", "a"), ("assistant", "b"), ("user", "c"))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda row: row.update(subset="mtbench_gpt4"),
            "unknown subset 'mtbench_gpt4'; the prior-sets part has anthropic_helpful, anthropic_hhh, shp, "
            "summarize (upstream's run_rm.py scores this split too, but Prior Sets leaves it out",
        ),
        (
            lambda row: row.update(
                prompt=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
            ),
            "the prompt must end with a user turn (it has 2 turns)",
        ),
        (lambda row: row.update(prompt=["plain strings"]), "prompt turn 1 has no text 'content'"),
        (lambda row: row.update(prompt=[]), "'prompt' must be a string or a non-empty list of turns"),
    ],
)
def test_bad_prior_rows_say_what_is_wrong(tmp_path: Path, mutate: Any, reason: str) -> None:
    rows = _rows()
    mutate(rows[0])
    with pytest.raises(DatasetError) as caught:
        load_dataset(V1, str(SAMPLE), extra_parts={"prior-sets": str(_write(tmp_path / "p.jsonl", rows))})
    assert "row 1: " + reason in caught.value.message


def test_from_the_hub_each_split_is_a_subset_and_its_own_subset_column_becomes_subsubset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datasets

    calls: list[tuple[str, str | None, str | None]] = []
    by_split: dict[str, list[dict[str, Any]]] = {}
    for row in _rows():
        by_split.setdefault(row.pop("subset"), []).append({**row, "subset": row.pop("subsubset")})

    def fake_load(repo_id: str, *, split: str | None, revision: str | None) -> Any:
        calls.append((repo_id, split, revision))
        if repo_id == "allenai/pref-test-sets":
            assert split is not None
            return datasets.Dataset.from_list(by_split[split])
        return datasets.Dataset.from_list([json.loads(line) for line in SAMPLE.read_text().splitlines()])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    part = V1.part("prior-sets")
    assert part is not None and part.splits == PRIOR  # pku_* and the unused splits are never loaded
    from_hub = load_dataset(V1, str(SAMPLE), extra_parts={"prior-sets": "allenai/pref-test-sets"})
    assert calls == [("allenai/pref-test-sets", split, None) for split in PRIOR]
    from_file = load_dataset(V1, str(SAMPLE), extra_parts={"prior-sets": str(PRIOR_SAMPLE)})
    assert from_hub.fingerprint == from_file.fingerprint


def test_fastchat_tulu_renders_an_empty_turn_as_its_role_line_alone(llama_no_template: Path) -> None:
    tokenizer = load_tokenizer(llama_no_template, "m")
    conversation: tuple[Message, ...] = (
        ("user", "Can you recommend a book?"),
        ("assistant", ""),
        ("user", "About space."),
    )
    assert render(tokenizer, "tulu", conversation, "Try Cosmos.") == (
        "<|user|>\nCan you recommend a book?\n<|assistant|>\n"  # the empty turn: no content, no newline
        "<|user|>\nAbout space.\n<|assistant|>\nTry Cosmos.\n"
    )
    assert render(tokenizer, "tulu", (("user", "Hi"),), "") == "<|user|>\nHi\n<|assistant|>\n"
    encoder = Encoder(tokenizer, "tulu", 2048)
    same, also = encoder.encode(encoder.texts((("user", "Hi"),), ["x", "x"]))
    assert same == also


def test_evaluate_with_the_prior_sets_gives_their_section_outside_the_score(
    rewardboard: Cli, llama_no_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results, per_example = tmp_path / "results.json", tmp_path / "per_example.jsonl"
    argv = ["evaluate", str(llama_no_template), "--dataset", str(SAMPLE), "--max-length", "512"]
    argv += ["--extra-part", f"prior-sets={PRIOR_SAMPLE}", "--dtype", "float32", "--device", "cpu"]
    assert (
        rewardboard([*argv, "--no-progress", "--output", str(results), "--per-example", str(per_example)])
        == 0
    )
    out = capsys.readouterr().out
    assert "Prior Sets" in out

    document = json.loads(results.read_text())
    assert all(isinstance(document[name], float) for name in PRIOR)
    sections = document["sections"]
    assert sections["Prior Sets"] == pytest.approx(sum(document[name] for name in PRIOR) / 4)
    assert document["score"] == pytest.approx(sum(sections[name] for name in CORE_SECTIONS) / 4)
    assert document["reproducibility"]["dataset"]["parts"] == ["core", "prior-sets"]
    lines = [json.loads(line) for line in per_example.read_text().splitlines()]
    prior = [line for line in lines if line["subset"] in PRIOR]
    assert len(lines) == 92 + 12 and len(prior) == 12
    for name in PRIOR:
        rows = [line for line in prior if line["subset"] == name]
        assert document[name] == sum(line["correct"] for line in rows) / len(rows)
