"""A result's reproducibility record as labelled rows for the model page: words for the keys, dates for
timestamps, nested records flattened ("Dataset · revision"), no raw dicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.schemas.models import ResultRead

LABELS: dict[str, str] = {
    "adapter": "Model type",
    "attention": "Attention",
    "batch_tokens": "Tokens per batch",
    "benchmark": "Benchmark",
    "chat_template": "Chat template",
    "code": "Code",
    "dataset": "Dataset",
    "device": "Device",
    "dtype": "Weights dtype",
    "examples_evaluated": "examples evaluated",
    "fingerprint": "fingerprint",
    "libraries": "Library versions",
    "limit_per_subset": "limit per subset",
    "max_length": "Max length (tokens)",
    "published": "Published board",
    "retrieved_timestamp": "retrieved",
    "revision": "revision",
    "seed": "seed",
    "selection_fingerprint": "selection fingerprint",
    "source": "source",
    "truncation_side": "Truncation side",
    "wall_time_s": "Wall time",
}
# Keys that the rows above the record already show.
SHOWN_ELSEWHERE = frozenset({"benchmark"})


@dataclass(frozen=True, slots=True)
class RecordRow:
    label: str
    value: str
    code: bool = False  # an identifier (commit, hash, version): shown in a monospace font


def format_date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize() if key.islower() else key)


def _timestamp(value: Any) -> str | None:
    """A Unix timestamp (number or numeric text) as a date, else None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 946_684_800 <= seconds <= 4_102_444_800:  # 2000-2100: anything else is not a date
        return None
    return format_date(datetime.fromtimestamp(seconds, UTC))


def _text(key: str, value: Any) -> tuple[str, bool]:
    if value is None or value == "":
        return "—", False
    if key.endswith("timestamp") or key.endswith("_at"):
        date = _timestamp(value)
        if date:
            return date, False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float) and key.endswith("_s"):
        return f"{value:,.1f} s", False
    if isinstance(value, list | tuple):
        return (", ".join(str(item) for item in value) or "—"), False
    return str(value), isinstance(value, str) and " " not in value


def _rows(record: Mapping[str, Any], prefix: str = "") -> Iterator[RecordRow]:
    for key in sorted(record):
        if not prefix and key in SHOWN_ELSEWHERE:
            continue
        value = record[key]
        label = f"{prefix} · {_label(key)}" if prefix else _label(key)
        if isinstance(value, Mapping):
            if key.endswith("_s"):  # timings: one row
                parts = [f"{name} {float(seconds):,.1f} s" for name, seconds in value.items()]
                yield RecordRow(label, ", ".join(parts) or "—")
                continue
            yield from _rows(value, label)
            continue
        text, code = _text(key, value)
        yield RecordRow(label, text, code)


def source_text(result: ResultRead) -> str:
    """ "Evaluated here", or "Imported: <file>" (the file's own words kept, without nesting brackets)."""
    if result.source.value == "evaluated":
        return "Evaluated here" + (f" (submission #{result.submission_id})" if result.submission_id else "")
    return "Imported" + (f": {result.source_detail}" if result.source_detail else "")


def record_rows(result: ResultRead) -> list[RecordRow]:
    """Every row of the record: where it came from, what ran, then the engine's own record flattened."""
    imported = result.source.value == "imported"
    rows = [
        RecordRow("Source", source_text(result)),
        RecordRow("Benchmark data", result.benchmark_version or "—", code=bool(result.benchmark_version)),
        RecordRow("Revision", result.revision or "—", code=bool(result.revision)),
        RecordRow("Commit", result.commit or "—", code=bool(result.commit)),
        RecordRow("Chat template", result.chat_template or "—"),
        RecordRow("Scoring version", result.scoring_version, code=True),
        RecordRow("Imported here" if imported else "Evaluated", format_date(result.created_at)),
    ]
    settings = sorted(result.config.items())
    rows += [RecordRow(f"Setting · {_label(key)}", *_text(key, value)) for key, value in settings]
    rows += list(_rows(result.reproducibility))
    return rows
