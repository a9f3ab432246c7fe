from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import FULL_V1, SAMPLE
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import fingerprint, load_dataset, select_examples
from worker.engine.errors import DatasetError

V1 = get_benchmark("rewardbench-v1")
CORE = [subset for subset in V1.subsets if subset.part == "core"]
SUBSET_NAMES = [subset.name for subset in CORE]
TOTAL_ROWS = sum(subset.rows for subset in CORE)


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_sample_covers_every_subset() -> None:
    dataset = load_dataset(V1, str(SAMPLE))
    counts = Counter(pair.subset for pair in dataset.examples)
    assert set(counts) == set(SUBSET_NAMES)
    assert all(n >= 4 for n in counts.values())
    assert not dataset.complete
    assert dataset.describe()["fingerprint"] == dataset.fingerprint
    assert len(dataset.fingerprint) == 64


@pytest.mark.skipif(not FULL_V1.exists(), reason=f"the full RewardBench v1 file is not at {FULL_V1}")
def test_full_v1_file_validates() -> None:
    dataset = load_dataset(V1, str(FULL_V1))
    assert len(dataset.examples) == TOTAL_ROWS
    assert dataset.complete
    counts = Counter(pair.subset for pair in dataset.examples)
    assert counts == {subset.name: subset.rows for subset in CORE}
    # id 3692 is in two subsets: rows are keyed by (subset, id).
    assert {pair.subset for pair in dataset.examples if pair.id == 3692} == {"donotanswer", "hep-python"}


def test_fingerprint_ignores_row_order_but_not_content(tmp_path: Path) -> None:
    rows = _rows()
    forward = load_dataset(V1, str(_write(tmp_path / "a.jsonl", rows)))
    backward = load_dataset(V1, str(_write(tmp_path / "b.jsonl", rows[::-1])))
    assert forward.fingerprint == backward.fingerprint
    rows[0] = {**rows[0], "chosen": rows[0]["chosen"] + " "}
    assert load_dataset(V1, str(_write(tmp_path / "c.jsonl", rows))).fingerprint != forward.fingerprint


def test_parquet_file_and_directory_give_the_same_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows()
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:40]), folder / "part-0.parquet")
    _write(folder / "part-1.jsonl", rows[40:])
    from_dir = load_dataset(V1, str(folder))
    assert from_dir.fingerprint == load_dataset(V1, str(SAMPLE)).fingerprint
    assert len(load_dataset(V1, str(folder / "part-0.parquet")).examples) == 40


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda row: row.pop("chosen_model"), "row 1: missing column(s) chosen_model"),
        (lambda row: row.update(id="7"), "row 1: column 'id' must be an integer, found str"),
        (lambda row: row.update(id=True), "row 1: column 'id' must be an integer, found bool"),
        (lambda row: row.update(prompt=None), "row 1: column 'prompt' must be a string, found null"),
        (lambda row: row.update(subset="alpacaeval-medium"), "row 1: unknown subset 'alpacaeval-medium'"),
    ],
)
def test_schema_errors_say_what_is_wrong(tmp_path: Path, mutate: Any, reason: str) -> None:
    rows = _rows()
    mutate(rows[0])
    with pytest.raises(DatasetError) as caught:
        load_dataset(V1, str(_write(tmp_path / "bad.jsonl", rows)))
    assert reason in caught.value.message
    assert "\n" not in caught.value.message


def test_duplicate_key_is_rejected(tmp_path: Path) -> None:
    rows = _rows()
    with pytest.raises(DatasetError, match=r"row 93: duplicate row \(subset 'alpacaeval-easy', id 34\)"):
        load_dataset(V1, str(_write(tmp_path / "dup.jsonl", [*rows, rows[0]])))


def test_bad_json_line_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(SAMPLE.read_text().splitlines()[0] + "\n{oops\n")
    with pytest.raises(DatasetError, match="line 2 is not valid JSON"):
        load_dataset(V1, str(path))
    with pytest.raises(DatasetError, match="no such file or directory"):
        load_dataset(V1, str(tmp_path / "absent.jsonl"))
    with pytest.raises(DatasetError, match=r"unsupported file type \.csv"):
        load_dataset(V1, str(_write(tmp_path / "rows.csv", [])))


def test_subset_with_too_many_rows_is_rejected(tmp_path: Path) -> None:
    row = _rows()[0]
    rows = [{**row, "subset": "mt-bench-easy", "id": i} for i in range(29)]
    with pytest.raises(DatasetError, match="subset 'mt-bench-easy' has 29 rows, RewardBench v1 has 28"):
        load_dataset(V1, str(_write(tmp_path / "big.jsonl", rows)))


@pytest.mark.skipif(not FULL_V1.exists(), reason=f"the full RewardBench v1 file is not at {FULL_V1}")
def test_a_row_short_is_not_complete(tmp_path: Path) -> None:
    rows = FULL_V1.read_text(encoding="utf-8").splitlines()[1:]
    dataset = load_dataset(V1, str(_write(tmp_path / "short.jsonl", [json.loads(line) for line in rows])))
    assert len(dataset.examples) == TOTAL_ROWS - 1
    assert not dataset.complete


def test_unknown_subset_filter_names_it_and_lists_valid_ones() -> None:
    pairs = load_dataset(V1, str(SAMPLE)).examples
    with pytest.raises(DatasetError) as caught:
        select_examples(V1, pairs, subsets=["hep-python", "hep-cobol"])
    assert "unknown subset 'hep-cobol'" in caught.value.message
    assert "alpacaeval-easy" in caught.value.message and "xstest-should-respond" in caught.value.message


def test_subset_filter_and_seeded_stratified_limit() -> None:
    pairs = load_dataset(V1, str(SAMPLE)).examples
    picked = select_examples(V1, pairs, subsets=["hep-go", "math-prm"])
    assert {pair.subset for pair in picked} == {"hep-go", "math-prm"}
    limited = select_examples(V1, pairs, limit_per_subset=2, seed=3)
    assert Counter(pair.subset for pair in limited) == dict.fromkeys(SUBSET_NAMES, 2)
    assert limited == select_examples(V1, pairs, limit_per_subset=2, seed=3)
    assert any(select_examples(V1, pairs, limit_per_subset=2, seed=s) != limited for s in range(4, 10))
    order = [pairs.index(pair) for pair in limited]
    assert order == sorted(order)
    assert fingerprint(V1, limited) != fingerprint(V1, pairs)


def test_limit_must_be_positive() -> None:
    with pytest.raises(DatasetError, match="at least 1"):
        select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=0)


class _FakeHub:
    """Stands in for ``datasets.load_dataset`` and records what it was asked for."""

    def __init__(self, rows: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.rows, self.error = rows, error
        self.calls: list[tuple[str, str | None, str | None]] = []

    def __call__(self, repo_id: str, *, split: str | None, revision: str | None) -> Any:
        import datasets

        self.calls.append((repo_id, split, revision))
        if self.error is not None:
            raise self.error
        return datasets.Dataset.from_list(self.rows or [])


def test_hub_dataset_at_a_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    hub = _FakeHub(_rows())
    monkeypatch.setattr(datasets, "load_dataset", hub)
    dataset = load_dataset(V1, "someone/reward-bench-copy@abc123")
    assert hub.calls == [("someone/reward-bench-copy", "filtered", "abc123")]
    assert (dataset.source, dataset.revision) == ("someone/reward-bench-copy", "abc123")
    assert dataset.fingerprint == load_dataset(V1, str(SAMPLE)).fingerprint


def test_pinned_hub_dataset_must_be_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    core = V1.part("core")
    assert core is not None
    hub = _FakeHub(_rows())
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with pytest.raises(
        DatasetError, match=f"expected all {TOTAL_ROWS} rows of the pinned revision, found 92"
    ):
        load_dataset(V1, None)
    assert hub.calls == [(core.dataset_id, "filtered", core.revision)]


def test_hub_failures_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    from worker.engine.errors import HubUnreachableError

    monkeypatch.setattr(datasets, "load_dataset", _FakeHub(error=ConnectionError("connection refused")))
    with pytest.raises(HubUnreachableError, match="could not reach the Hub"):
        load_dataset(V1, "org/data")
    monkeypatch.setattr(datasets, "load_dataset", _FakeHub(error=DatasetNotFoundError("nope")))
    with pytest.raises(DatasetError, match="'org/data' not found on the Hub"):
        load_dataset(V1, "org/data")
    monkeypatch.setattr(datasets, "load_dataset", _FakeHub([{"prompt": "p"}]))
    with pytest.raises(DatasetError, match="missing column"):
        load_dataset(V1, "org/data")


def test_selecting_a_subset_the_file_lacks(tmp_path: Path) -> None:
    rows = [row for row in _rows() if row["subset"] != "hep-go"]
    pairs = load_dataset(V1, str(_write(tmp_path / "no-go.jsonl", rows))).examples
    with pytest.raises(DatasetError, match="no rows for subset"):
        select_examples(V1, pairs, subsets=["hep-go"])


def test_v1_fingerprint_is_unchanged_by_the_benchmark_registry() -> None:
    # The value the engine computed for the committed sample before benchmarks became definitions:
    # results stored then and now name the same data by the same fingerprint.
    expected = "cae4358d8dc0d01ea24017a933ecf871be514fd45ad2484421a03af512f5e311"
    assert load_dataset(V1, str(SAMPLE)).fingerprint == expected
