"""Load, validate, fingerprint and select a benchmark's examples.

Each data part of a benchmark (``DataPart``) comes from its pinned Hub dataset by default, or from another
Hub dataset id (``org/name`` or ``org/name@revision``), a local ``.jsonl`` / ``.parquet`` file, or a
directory of them. The benchmark's definition turns the rows into examples. Every failure is a
``DatasetError`` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from worker.engine.benchmarks.base import Benchmark, DataPart, LoadedDataset
from worker.engine.errors import DatasetError, HubUnreachableError
from worker.engine.hub_errors import first_line, is_network_error
from worker.engine.types import Example

LOCAL_SUFFIXES: Final = (".jsonl", ".parquet")
CORE_PART: Final = "core"


def load_dataset(
    benchmark: Benchmark, source: str | None = None, *, extra_parts: Mapping[str, str | None] | None = None
) -> LoadedDataset:
    """Load and validate a whole benchmark: its core part from ``source`` and the optional ``extra_parts``.

    A source of None is the part's pinned Hub dataset, which must then be complete.
    """
    sources: dict[str, str | None] = {CORE_PART: source, **(extra_parts or {})}
    examples: list[Example] = []
    label, revision = "", None
    complete = True
    for name, part_source in sources.items():
        part = benchmark.part(name)
        if part is None or (name != CORE_PART and not part.optional):
            known = ", ".join(p.name for p in benchmark.parts if p.optional) or "none"
            raise DatasetError(f"{benchmark.id} has no optional data part {name!r}; optional parts: {known}")
        rows, part_label, part_revision = _read_part(part, part_source)
        part_examples = benchmark.parse_rows(rows, source=part_label, part=part)
        if not part_examples:
            raise DatasetError(f"{part_label}: no rows")
        part_complete = _check_counts(benchmark, part, part_examples, part_label)
        if part_source is None and not part_complete:
            expected = sum(subset.rows for subset in benchmark.subsets if subset.part == part.name)
            raise DatasetError(
                f"{part_label}: expected all {expected} rows of the pinned revision, "
                f"found {len(part_examples)}"
            )
        complete = complete and part_complete
        examples.extend(part_examples)
        if name == CORE_PART:
            label, revision = part_label, part_revision
    return LoadedDataset(
        tuple(examples), label, revision, fingerprint(benchmark, examples), complete, tuple(sources)
    )


def select_examples(
    benchmark: Benchmark,
    examples: Sequence[Example],
    *,
    subsets: Iterable[str] | None = None,
    limit_per_subset: int | None = None,
    seed: int = 0,
) -> list[Example]:
    """Keep the named subsets, at most ``limit_per_subset`` units of each (drawn with ``seed``), in order.

    A unit is one example, or the examples the benchmark scores together (``Benchmark.selection_group``:
    RewardBench 2's linked Ties prompts). The benchmark then checks that the selection can be scored.
    """
    chosen = list(examples)
    if subsets is not None:
        wanted = _check_subset_names(benchmark, subsets)
        chosen = [example for example in examples if example.subset in wanted]
        if not chosen:
            raise DatasetError(f"the dataset has no rows for subset(s) {', '.join(sorted(wanted))}")
    if limit_per_subset is not None:
        chosen = _sample_groups(benchmark, chosen, limit_per_subset, seed)
    benchmark.check_selection(chosen)
    return chosen


def _sample_groups(benchmark: Benchmark, examples: list[Example], limit: int, seed: int) -> list[Example]:
    if limit < 1:
        raise DatasetError(f"limit per subset must be at least 1, got {limit}")
    groups: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for index, example in enumerate(examples):
        groups[example.subset].setdefault(benchmark.selection_group(example), []).append(index)
    keep: set[int] = set()
    for subset, members in groups.items():
        rng = random.Random(f"{seed}/{subset}")
        units = list(members.values())
        for unit in rng.sample(units, min(limit, len(units))):
            keep.update(unit)
    return [example for index, example in enumerate(examples) if index in keep]


def fingerprint(benchmark: Benchmark, examples: Iterable[Example]) -> str:
    """sha256 over the canonical JSON of every example, sorted by (subset, id): independent of row order."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=_order):
        document = benchmark.canonical(example)
        digest.update(json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _order(example: Example) -> tuple[str, int, int, str]:
    # Integer ids in numeric order (RewardBench v1), then string ids (RewardBench 2).
    if isinstance(example.id, int):
        return (example.subset, 0, example.id, "")
    return (example.subset, 1, 0, example.id)


def is_local_source(source: str) -> bool:
    path = Path(source).expanduser()
    return path.exists() or source.startswith((".", "/", "~")) or path.suffix in LOCAL_SUFFIXES


def _read_part(part: DataPart, source: str | None) -> tuple[list[dict[str, Any]], str, str | None]:
    """The part's raw rows, a label naming where they came from, and the Hub revision if any."""
    if source is None:
        return _load_hub(part, part.dataset_id, part.revision), part.dataset_id, part.revision
    if is_local_source(source):
        path = Path(source).expanduser()
        return _load_local(path), path.name, None
    repo_id, _, asked = source.partition("@")
    revision = asked or None
    return _load_hub(part, repo_id, revision), repo_id, revision


def _check_counts(benchmark: Benchmark, part: DataPart, examples: Sequence[Example], source: str) -> bool:
    """Reject a subset with more rows than the benchmark has; say whether every subset is complete."""
    counts = Counter(example.subset for example in examples)
    for name, n in counts.items():
        subset = benchmark.subset(name)
        if subset is not None and n > subset.rows:
            raise DatasetError(f"{source}: subset {name!r} has {n} rows, {benchmark.label} has {subset.rows}")
    return all(
        counts.get(subset.name, 0) == subset.rows for subset in benchmark.subsets if subset.part == part.name
    )


def _check_subset_names(benchmark: Benchmark, subsets: Iterable[str]) -> set[str]:
    wanted = set(subsets)
    valid = ", ".join(benchmark.subset_names)
    unknown = sorted(name for name in wanted if benchmark.subset(name) is None)
    if unknown:
        raise DatasetError(f"unknown subset {unknown[0]!r}; valid subsets: {valid}")
    if not wanted:
        raise DatasetError(f"no subset selected; valid subsets: {valid}")
    return wanted


def _load_local(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DatasetError(f"{path.name}: no such file or directory")
    if path.is_dir():
        files = sorted(file for file in path.iterdir() if file.suffix in LOCAL_SUFFIXES)
        if not files:
            raise DatasetError(f"{path.name}: no .jsonl or .parquet files in this directory")
        return [row for file in files for row in _load_file(file)]
    return _load_file(path)


def _load_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    if path.suffix == ".parquet":
        return _read_parquet(path)
    raise DatasetError(
        f"{path.name}: unsupported file type {path.suffix or '(none)'}; use .jsonl or .parquet"
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path.name}: line {number} is not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path.name}: not UTF-8 text") from None
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise DatasetError(f"{path.name}: not a readable parquet file ({first_line(exc)})") from None
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _load_hub(part: DataPart, repo_id: str, revision: str | None) -> list[dict[str, Any]]:
    if part.splits:
        rows: list[dict[str, Any]] = []
        for split in part.splits:
            for row in _load_hub_split(repo_id, split, revision):
                # Each split is one subset; a subset column of the rows' own is kept as "subsubset".
                if "subset" in row:
                    row["subsubset"] = row.pop("subset")
                rows.append({**row, "subset": split})
        return rows
    return _load_hub_split(repo_id, part.split, revision)


def _load_hub_split(repo_id: str, split: str | None, revision: str | None) -> list[dict[str, Any]]:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        loaded = datasets.load_dataset(repo_id, split=split, revision=revision)
    except DatasetNotFoundError:
        raise DatasetError(f"dataset {repo_id!r} not found on the Hub (or it is private)") from None
    except Exception as exc:
        if is_network_error(exc):
            raise HubUnreachableError(
                f"could not reach the Hub to load {repo_id!r}: {first_line(exc)}"
            ) from None
        if isinstance(exc, ValueError):
            raise DatasetError(f"dataset {repo_id!r}: {first_line(exc)}") from None
        raise
    rows: list[dict[str, Any]] = loaded.to_list()
    return rows
