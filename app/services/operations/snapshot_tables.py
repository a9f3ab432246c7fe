"""The two Parquet tables of a data snapshot, their Arrow schemas and how they are written.

``results.parquet`` has one row per ranked result: the board's own columns, with the benchmark's sections,
their intervals and its subsets as structs named by the benchmark's definition (so every row of one
benchmark has the same fields, null where a result has no value). ``examples.parquet`` has one row per
scored example of those results. Both are written into a temporary file beside their final path, in row
groups, and renamed into place only when both are complete (see ``TableWriter`` and ``publish``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from worker.engine.benchmarks.base import Benchmark

RESULTS = "results"
EXAMPLES = "examples"
FILES: tuple[str, ...] = (RESULTS, EXAMPLES)
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
_HASH_CHUNK = 1 << 20

_INTERVAL = pa.struct([("low", pa.float64()), ("high", pa.float64())])


def results_schema(definition: Benchmark) -> pa.Schema:
    sections = [(section.name, pa.float64()) for section in definition.sections]
    intervals = [(section.name, _INTERVAL) for section in definition.sections]
    subsets = [(subset.name, pa.float64()) for subset in definition.subsets]
    return pa.schema(
        [
            pa.field("result_id", pa.int64(), nullable=False),
            ("rank", pa.int32()),
            ("rank_ub", pa.int32()),
            pa.field("model", pa.string(), nullable=False),
            ("display_name", pa.string()),
            ("hub_repo", pa.bool_()),
            ("model_type", pa.string()),
            ("model_type_label", pa.string()),
            ("source", pa.string()),
            ("source_detail", pa.string()),
            ("visibility", pa.string()),
            ("visibility_reason", pa.string()),
            ("visibility_link", pa.string()),
            ("score", pa.float64()),
            ("score_low", pa.float64()),
            ("score_high", pa.float64()),
            ("interval_status", pa.string()),
            ("interval_note", pa.string()),
            ("sections", pa.struct(sections)),
            ("section_intervals", pa.struct(intervals)),
            ("subsets", pa.struct(subsets)),
            ("published_score", pa.float64()),
            ("published_formula", pa.string()),
            ("complete", pa.bool_()),
            ("parameters", pa.int64()),
            ("parameters_from_name", pa.int64()),
            ("active_parameters", pa.int64()),
            ("parameters_source", pa.string()),
            ("parameters_text", pa.string()),
            ("revision", pa.string()),
            ("commit", pa.string()),
            ("benchmark_version", pa.string()),
            ("scoring_version", pa.string()),
            ("config", pa.string()),  # the run's settings as JSON text
            ("examples", pa.int64()),  # its rows in examples.parquet
            ("created_at", pa.timestamp("us", tz="UTC")),
        ]
    )


EXAMPLES_SCHEMA = pa.schema(
    [
        pa.field("result_id", pa.int64(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        ("model_type", pa.string()),
        pa.field("subset", pa.string(), nullable=False),
        pa.field("example_id", pa.string(), nullable=False),
        ("scores", pa.list_(pa.float64())),  # one per candidate; the first num_correct are the chosen ones
        ("num_correct", pa.int32()),
        ("outcome", pa.float64()),  # the benchmark's credit for the example (1 right, 0 wrong, shares)
    ]
)


def schema_description(schema: pa.Schema) -> list[dict[str, str]]:
    """The columns of a table as the manifest lists them: name and Arrow type."""
    return [{"name": column.name, "type": str(column.type)} for column in schema]


def utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands back naive ones, stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def config_text(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One table written to its temporary path, waiting to be renamed to ``final``."""

    final: Path
    temporary: Path
    rows: int
    sha256: str
    bytes: int
    schema: pa.Schema

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.final.name,
            "rows": self.rows,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "columns": schema_description(self.schema),
        }


@dataclass
class TableWriter:
    """Rows appended in batches, each batch one row group of a Parquet file at a temporary path.

    Rows are gathered column by column (``append`` a row, or ``extend_columns`` with a batch of columns)
    and written as one row group every ``batch_rows`` rows. ``close`` flushes the file to disk and hashes
    it; ``discard`` removes the temporary file. Nothing is visible at the final path until ``publish``
    renames it there.
    """

    final: Path
    schema: pa.Schema
    batch_rows: int
    temporary: Path = field(init=False)
    rows: int = field(default=0, init=False)
    _pending: dict[str, list[Any]] = field(default_factory=dict, init=False)
    _pending_rows: int = field(default=0, init=False)
    _writer: pq.ParquetWriter | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.temporary = self.final.with_name(f".{self.final.name}.{uuid.uuid4().hex}.tmp")
        self._pending = {name: [] for name in self.schema.names}

    def append(self, row: Mapping[str, Any]) -> None:
        for name, values in self._pending.items():
            values.append(row[name])
        self._added(1)

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    def extend_columns(self, columns: Mapping[str, Sequence[Any]]) -> None:
        """A batch of rows as one list per column (every column of the schema, of one length)."""
        lengths = {len(columns[name]) for name in self._pending}
        if len(lengths) != 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        for name, values in self._pending.items():
            values.extend(columns[name])
        self._added(lengths.pop())

    def _added(self, count: int) -> None:
        self._pending_rows += count
        if self._pending_rows >= self.batch_rows:
            self._flush()

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._writer = open_parquet_writer(self.temporary, self.schema)
        return self._writer

    def _flush(self) -> None:
        writer = self._open()
        if self._pending_rows:
            writer.write_table(pa.Table.from_pydict(self._pending, schema=self.schema))
            self.rows += self._pending_rows
            self._pending = {name: [] for name in self.schema.names}
            self._pending_rows = 0

    def close(self) -> WrittenFile:
        self._flush()
        writer = self._open()  # an empty table still gets a file with its schema
        writer.close()
        self._writer = None
        digest, size = _sync_and_hash(self.temporary)
        return WrittenFile(self.final, self.temporary, self.rows, digest, size, self.schema)

    def discard(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self.temporary.unlink()


def open_parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer at ``path``, zstd-compressed, with the schema's field names as given."""
    return pq.ParquetWriter(path, schema, compression="zstd")


def _sync_and_hash(path: Path) -> tuple[str, int]:
    """The file's sha256 and size, after forcing its bytes to disk (so a rename never exposes a hole)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def publish(files: Sequence[WrittenFile]) -> None:
    """Rename each finished temporary file over its final path (atomic per file on one file system)."""
    for written in files:
        os.replace(written.temporary, written.final)
    if files:
        _sync_directory(files[0].final.parent)


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A (small) results table as Python rows."""
    return list(pq.read_table(path).to_pylist())
