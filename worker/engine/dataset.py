"""Load, validate, fingerprint and select RewardBench v1 rows.

Sources: the pinned Hub dataset (``allenai/reward-bench``, split ``filtered``), another Hub dataset id
(``org/name`` or ``org/name@revision``), a local ``.jsonl`` / ``.parquet`` file, or a directory of them.
Every failure is a ``DatasetError`` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from worker.engine.benchmark import (
    DATASET_ID,
    DATASET_REVISION,
    DATASET_SPLIT,
    SUBSET_NAMES,
    SUBSETS,
    TOTAL_ROWS,
)
from worker.engine.errors import DatasetError, HubUnreachableError
from worker.engine.hub_errors import first_line, is_network_error
from worker.engine.types import PreferencePair

TEXT_COLUMNS: Final = ("prompt", "chosen", "chosen_model", "rejected", "rejected_model", "subset")
COLUMNS: Final = (*TEXT_COLUMNS, "id")
LOCAL_SUFFIXES: Final = (".jsonl", ".parquet")


@dataclass(frozen=True, slots=True)
class LoadedDataset:
    """Validated rows and where they came from. ``complete`` is True when every subset has all its rows."""

    pairs: tuple[PreferencePair, ...]
    source: str
    revision: str | None
    fingerprint: str
    complete: bool

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.source,
            "split": DATASET_SPLIT,
            "revision": self.revision,
            "fingerprint": self.fingerprint,
            "rows": len(self.pairs),
            "complete": self.complete,
        }


def load_dataset(source: str | None = None) -> LoadedDataset:
    """Load and validate a whole RewardBench v1 dataset from the Hub (default: the pinned one) or disk."""
    if source is None:
        rows, revision, label = _load_hub(DATASET_ID, DATASET_REVISION), DATASET_REVISION, DATASET_ID
    elif _looks_local(source):
        rows, revision, label = _load_local(Path(source).expanduser()), None, str(source)
    else:
        repo_id, _, asked = source.partition("@")
        revision = asked or None
        rows, label = _load_hub(repo_id, revision), repo_id
    pairs = validate_rows(rows, source=label)
    complete = _check_counts(pairs, label)
    if source is None and not complete:
        raise DatasetError(
            f"{label}: expected all {TOTAL_ROWS} rows of the pinned revision, found {len(pairs)}"
        )
    return LoadedDataset(tuple(pairs), label, revision, fingerprint(pairs), complete)


def select_pairs(
    pairs: Sequence[PreferencePair],
    *,
    subsets: Iterable[str] | None = None,
    limit_per_subset: int | None = None,
    seed: int = 0,
) -> list[PreferencePair]:
    """Keep the named subsets, at most ``limit_per_subset`` rows of each (drawn with ``seed``), in order."""
    chosen = pairs
    if subsets is not None:
        wanted = _check_subset_names(subsets)
        chosen = [pair for pair in pairs if pair.subset in wanted]
        if not chosen:
            raise DatasetError(f"the dataset has no rows for subset(s) {', '.join(sorted(wanted))}")
    if limit_per_subset is None:
        return list(chosen)
    if limit_per_subset < 1:
        raise DatasetError(f"limit per subset must be at least 1, got {limit_per_subset}")
    by_subset: dict[str, list[int]] = defaultdict(list)
    for index, pair in enumerate(chosen):
        by_subset[pair.subset].append(index)
    keep: set[int] = set()
    for subset, indices in by_subset.items():
        rng = random.Random(f"{seed}/{subset}")
        keep.update(rng.sample(indices, min(limit_per_subset, len(indices))))
    return [pair for index, pair in enumerate(chosen) if index in keep]


def fingerprint(pairs: Iterable[PreferencePair]) -> str:
    """sha256 over the canonical JSON of every row, sorted by (subset, id): independent of row order."""
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda pair: pair.key):
        digest.update(json.dumps(_canonical(pair), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def validate_rows(rows: Iterable[Mapping[str, Any]], *, source: str) -> list[PreferencePair]:
    """Check columns, types, subset names and (subset, id) uniqueness; build the pairs."""
    pairs: list[PreferencePair] = []
    seen: set[tuple[str, int]] = set()
    for number, row in enumerate(rows, start=1):
        where = f"{source}: row {number}"
        if not isinstance(row, Mapping):
            raise DatasetError(f"{where}: expected an object with columns {', '.join(COLUMNS)}")
        missing = [column for column in COLUMNS if column not in row]
        if missing:
            raise DatasetError(f"{where}: missing column(s) {', '.join(missing)}")
        for column in TEXT_COLUMNS:
            if not isinstance(row[column], str):
                raise DatasetError(
                    f"{where}: column {column!r} must be a string, found {_type_name(row[column])}"
                )
        row_id = row["id"]
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            raise DatasetError(f"{where}: column 'id' must be an integer, found {_type_name(row_id)}")
        if row["subset"] not in SUBSETS:
            raise DatasetError(f"{where}: unknown subset {row['subset']!r}")
        key = (row["subset"], row_id)
        if key in seen:
            raise DatasetError(f"{where}: duplicate row (subset {key[0]!r}, id {key[1]})")
        seen.add(key)
        pairs.append(
            PreferencePair(
                subset=row["subset"],
                id=row_id,
                prompt=row["prompt"],
                chosen=row["chosen"],
                rejected=row["rejected"],
                chosen_model=row["chosen_model"],
                rejected_model=row["rejected_model"],
            )
        )
    if not pairs:
        raise DatasetError(f"{source}: no rows")
    return pairs


def _check_counts(pairs: Sequence[PreferencePair], source: str) -> bool:
    """Reject a subset with more rows than v1 has; say whether every subset is complete."""
    counts = Counter(pair.subset for pair in pairs)
    for name, n in counts.items():
        if n > SUBSETS[name].rows:
            raise DatasetError(
                f"{source}: subset {name!r} has {n} rows, RewardBench v1 has {SUBSETS[name].rows}"
            )
    complete = all(counts.get(name, 0) == subset.rows for name, subset in SUBSETS.items())
    return complete


def _check_subset_names(subsets: Iterable[str]) -> set[str]:
    wanted = set(subsets)
    unknown = sorted(wanted - set(SUBSETS))
    if unknown:
        raise DatasetError(f"unknown subset {unknown[0]!r}; valid subsets: {', '.join(SUBSET_NAMES)}")
    if not wanted:
        raise DatasetError(f"no subset selected; valid subsets: {', '.join(SUBSET_NAMES)}")
    return wanted


def _looks_local(source: str) -> bool:
    path = Path(source).expanduser()
    return path.exists() or source.startswith((".", "/", "~")) or path.suffix in LOCAL_SUFFIXES


def _load_local(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DatasetError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(file for file in path.iterdir() if file.suffix in LOCAL_SUFFIXES)
        if not files:
            raise DatasetError(f"{path}: no .jsonl or .parquet files in this directory")
        return [row for file in files for row in _load_file(file)]
    return _load_file(path)


def _load_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    if path.suffix == ".parquet":
        return _read_parquet(path)
    raise DatasetError(f"{path}: unsupported file type {path.suffix or '(none)'}; use .jsonl or .parquet")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise DatasetError(f"{path}: not a readable parquet file ({exc})") from None
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _load_hub(repo_id: str, revision: str | None) -> list[dict[str, Any]]:
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        loaded = datasets.load_dataset(repo_id, split=DATASET_SPLIT, revision=revision)
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
    missing = [column for column in COLUMNS if column not in loaded.column_names]
    if missing:
        raise DatasetError(f"dataset {repo_id!r}: missing column(s) {', '.join(missing)}")
    rows: list[dict[str, Any]] = loaded.to_list()
    return rows


def _canonical(pair: PreferencePair) -> dict[str, Any]:
    return {
        "prompt": pair.prompt,
        "chosen": pair.chosen,
        "chosen_model": pair.chosen_model,
        "rejected": pair.rejected,
        "rejected_model": pair.rejected_model,
        "subset": pair.subset,
        "id": pair.id,
    }


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__
