"""Data snapshots: a benchmark's ranked board and every per-example score of it, as Parquet, kept by date.

A snapshot is made for one benchmark on one UTC date (re-making it that day replaces it): the board is read
through the leaderboard service, page by page, as a visitor sees it (results a maintainer hid are left out,
flagged ones kept with their mark), and the scored examples of those results are streamed from the
database in batches into row groups, so a large board is never held in memory. Both files are written to
temporary files and renamed into place only when both are complete; a failed write (a full disk) leaves
the previous snapshot as it was and says why. The manifest (rows, sha256 and bytes of each file, the
column schema, the benchmark's scoring version, when and by whom) is stored in the ``data_snapshot`` row.

Snapshots older than SNAPSHOT_KEEP_DAYS are deleted with their files, the newest always kept. Files live
under ``DATA_DIR/snapshots/<benchmark>/<date>/``; the functions here flush, the caller commits, and removes
expired directories after its commit (``remove_directories``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import DataSnapshot, ResultVisibility
from app.db.repositories import snapshots as repo
from app.errors import DomainError, NotFoundError
from app.schemas.leaderboard import LEADERBOARD_RULE, LeaderboardQuery, LeaderboardRow
from app.schemas.snapshots import SnapshotFile, SnapshotManifest, SnapshotSummary
from app.services.operations import audit
from app.services.operations.snapshot_tables import (
    EXAMPLES,
    EXAMPLES_SCHEMA,
    FILES,
    RESULTS,
    TableWriter,
    WrittenFile,
    config_text,
    publish,
    results_schema,
    utc,
)
from app.services.presentation.leaderboard import apart_types, leaderboard_page
from app.services.results.intervals import INTERVAL_METHOD_TEXT, RANK_TEXT
from worker.engine.benchmarks import BENCHMARKS, get_benchmark
from worker.engine.benchmarks.base import Benchmark

FORMAT = "rewardboard-snapshot"
FORMAT_VERSION = 1
SCHEDULE = "schedule"
LATEST = "latest"
EXAMPLE_BATCH_ROWS = 50_000  # rows per Parquet row group of examples.parquet, and per database page
_BOARD_PAGE = 1000  # the leaderboard service's largest page


class SnapshotWriteError(DomainError):
    """The snapshot could not be written (507 when the disk is full); the previous one is intact."""

    status_code = 500


class SnapshotBusyError(DomainError):
    status_code = 409


@dataclass(frozen=True, slots=True)
class SnapshotOutcome:
    """A snapshot made, and the directories of the snapshots it made expire (to remove after commit)."""

    snapshot: DataSnapshot
    expired: list[Path] = field(default_factory=list)


def snapshot_root(settings: Settings) -> Path:
    return settings.data_dir / "snapshots"


def snapshot_directory(root: Path, benchmark: str, snapshot_date: str) -> Path:
    return root / benchmark / snapshot_date


def known_benchmark(benchmark: str) -> Benchmark:
    if benchmark not in BENCHMARKS:
        raise NotFoundError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}")
    return get_benchmark(benchmark)


# Making ---------------------------------------------------------------------------------------------------


def make_and_prune(
    session: Session,
    settings: Settings,
    benchmark: str,
    *,
    created_by: str,
    now: datetime | None = None,
) -> SnapshotOutcome:
    """Today's snapshot of ``benchmark`` (made or replaced), then the expired ones deleted from the table."""
    snapshot = make_snapshot(
        session, root=snapshot_root(settings), benchmark=benchmark, created_by=created_by, now=now
    )
    expired = prune_snapshots(
        session,
        root=snapshot_root(settings),
        benchmark=benchmark,
        keep_days=settings.snapshot_keep_days,
        today=date.fromisoformat(snapshot.snapshot_date),
    )
    return SnapshotOutcome(snapshot, expired)


def make_snapshot(
    session: Session,
    *,
    root: Path,
    benchmark: str,
    created_by: str,
    now: datetime | None = None,
    batch_rows: int = EXAMPLE_BATCH_ROWS,
) -> DataSnapshot:
    """Write the snapshot of ``benchmark`` for today's UTC date and store its manifest (flushed)."""
    definition = known_benchmark(benchmark)
    made_at = utc(now or datetime.now(UTC))
    snapshot_date = made_at.date().isoformat()
    target = snapshot_directory(root, benchmark, snapshot_date)
    with _writing(root, benchmark, snapshot_date):
        board = board_rows(session, definition)
        written = _write_tables(session, definition, board, target, batch_rows)
        replaced = repo.find(session, benchmark, snapshot_date) is not None
        manifest = _manifest(definition, snapshot_date, made_at, created_by, written)
        try:
            publish(written)
        except OSError as error:
            _discard(written)
            raise _write_error(benchmark, snapshot_date, error) from error
    snapshot = repo.save(
        session,
        benchmark=benchmark,
        snapshot_date=snapshot_date,
        scoring_version=definition.current_scoring_version,
        manifest=manifest,
        created_by=created_by,
        created_at=made_at,
    )
    audit.record_event(
        session,
        actor=created_by,
        action="snapshot_made",
        subject="snapshot",
        subject_id=f"{benchmark}/{snapshot_date}",
        benchmark=benchmark,
        link=snapshot_path(benchmark, snapshot_date),
        detail={
            "results": written[0].rows,
            "examples": written[1].rows,
            "scoring_version": definition.current_scoring_version,
            "replaced": replaced,
        },
        now=made_at,
    )
    return snapshot


def board_rows(session: Session, definition: Benchmark) -> list[LeaderboardRow]:
    """Every ranked row of the benchmark's board, as the leaderboard service gives them: the main board,
    then each model type shown apart (ranked among the board when asked for), page by page."""
    rows: dict[int, LeaderboardRow] = {}
    for model_type in (None, *apart_types(None)):
        number = 1
        while True:
            query = LeaderboardQuery(
                benchmark=definition.id, model_type=model_type, sort="rank", page=number, per_page=_BOARD_PAGE
            )
            page = leaderboard_page(session, query)
            for row in page.rows:
                rows.setdefault(row.result_id, row)
            if number * _BOARD_PAGE >= page.total or not page.rows:
                break
            number += 1
    return list(rows.values())


def _write_tables(
    session: Session, definition: Benchmark, board: Sequence[LeaderboardRow], target: Path, batch_rows: int
) -> list[WrittenFile]:
    """Both tables written to temporary files in ``target`` (nothing final is touched yet)."""
    ids = [row.result_id for row in board]
    details = repo.result_details(session, ids)
    kept = [row for row in board if details[row.result_id].visibility != ResultVisibility.HIDDEN]
    results = TableWriter(target / f"{RESULTS}.parquet", results_schema(definition), batch_rows)
    examples = TableWriter(target / f"{EXAMPLES}.parquet", EXAMPLES_SCHEMA, batch_rows)
    try:
        target.mkdir(parents=True, exist_ok=True)
        counts: dict[int, int] = {}
        for row in kept:
            counts[row.result_id] = 0
            for batch in repo.example_rows(session, row.result_id, batch_rows=batch_rows):
                counts[row.result_id] += len(batch)
                examples.extend_columns(_example_columns(row, batch))
        subsets = repo.subset_values(session, [row.result_id for row in kept])
        results.extend(
            _result_record(
                definition, row, details[row.result_id], subsets[row.result_id], counts[row.result_id]
            )
            for row in kept
        )
        return [results.close(), examples.close()]
    except OSError as error:
        results.discard()
        examples.discard()
        raise _write_error(definition.id, target.name, error) from error
    except BaseException:
        results.discard()
        examples.discard()
        raise


def _example_columns(row: LeaderboardRow, batch: Sequence[repo.ExampleRow]) -> dict[str, list[Any]]:
    count = len(batch)
    return {
        "result_id": [row.result_id] * count,
        "model": [row.model] * count,
        "model_type": [row.model_type] * count,
        "subset": [example.subset for example in batch],
        "example_id": [example.example_id for example in batch],
        "scores": [example.scores or [] for example in batch],
        "num_correct": [example.num_correct for example in batch],
        "outcome": [example.outcome for example in batch],
    }


def _result_record(
    definition: Benchmark,
    row: LeaderboardRow,
    detail: repo.ResultDetail,
    subsets: dict[str, float],
    examples: int,
) -> dict[str, Any]:
    low, high = row.score_interval or (None, None)
    intervals: dict[str, dict[str, float] | None] = {}
    for section in definition.sections:
        bounds = row.section_intervals.get(section.name)
        intervals[section.name] = {"low": bounds[0], "high": bounds[1]} if bounds else None
    return {
        **row.model_dump(
            include={
                "result_id",
                "rank",
                "rank_ub",
                "model",
                "display_name",
                "hub_repo",
                "model_type",
                "model_type_label",
                "source_detail",
                "score",
                "interval_note",
                "published_score",
                "published_formula",
                "complete",
                "parameters",
                "parameters_from_name",
                "active_parameters",
                "parameters_source",
                "parameters_text",
                "revision",
                "scoring_version",
            }
        ),
        "source": str(row.source),
        "visibility": detail.visibility,
        "visibility_reason": detail.visibility_reason,
        "visibility_link": detail.visibility_link,
        "score_low": low,
        "score_high": high,
        "interval_status": detail.interval_status,
        "sections": {section.name: row.sections.get(section.name) for section in definition.sections},
        "section_intervals": intervals,
        "subsets": {subset.name: subsets.get(subset.name) for subset in definition.subsets},
        "commit": detail.commit,
        "benchmark_version": detail.benchmark_version,
        "config": config_text(detail.config),
        "examples": examples,
        "created_at": utc(row.created_at),
    }


def _manifest(
    definition: Benchmark,
    snapshot_date: str,
    made_at: datetime,
    created_by: str,
    written: Sequence[WrittenFile],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "benchmark": definition.id,
        "benchmark_label": definition.label,
        "date": snapshot_date,
        "scoring_version": definition.current_scoring_version,
        "created_at": made_at.isoformat(),
        "created_by": created_by,
        "files": {name: file.describe() for name, file in zip(FILES, written, strict=True)},
        "board": {
            "rule": LEADERBOARD_RULE,
            "sections": [section.name for section in definition.sections],
            "score_sections": [section.name for section in definition.score_sections()],
            "subsets": [subset.name for subset in definition.subsets],
            "interval_method": INTERVAL_METHOD_TEXT,
            "rank_rule": RANK_TEXT,
        },
    }


@contextlib.contextmanager
def _writing(root: Path, benchmark: str, snapshot_date: str) -> Iterator[None]:
    """One maker at a time per benchmark on this data directory (an advisory lock file)."""
    directory = root / benchmark
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = (directory / ".lock").open("a")
    except OSError as error:
        raise _write_error(benchmark, snapshot_date, error) from error
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SnapshotBusyError(
                f"a snapshot of {benchmark} is being made right now; try again when it is done"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _discard(written: Sequence[WrittenFile]) -> None:
    for file in written:
        with contextlib.suppress(FileNotFoundError):
            file.temporary.unlink()


def _write_error(benchmark: str, snapshot_date: str, error: OSError) -> SnapshotWriteError:
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the disk is full (no space left on device)" if full else (error.strerror or str(error))
    kept = "the previous snapshot is kept as it was"
    failure = SnapshotWriteError(
        f"could not write the {benchmark} snapshot of {snapshot_date}: {reason}; {kept}"
    )
    if full:
        failure.status_code = 507
    return failure


# Retention ------------------------------------------------------------------------------------------------


def prune_snapshots(
    session: Session, *, root: Path, benchmark: str, keep_days: int, today: date
) -> list[Path]:
    """Delete the rows of the benchmark's snapshots older than ``keep_days`` (never the newest one); the
    directories to remove once the caller has committed."""
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    newest = repo.newest(session, benchmark)
    expired = [
        row for row in repo.older_than(session, benchmark, cutoff) if newest is None or row.id != newest.id
    ]
    repo.remove(session, [row.id for row in expired])
    return [snapshot_directory(root, benchmark, row.snapshot_date) for row in expired]


def remove_directories(directories: Sequence[Path]) -> None:
    """Remove expired snapshots' files (after the commit that deleted their rows); a missing one is fine."""
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


# Reading --------------------------------------------------------------------------------------------------


def list_snapshots(session: Session, benchmark: str | None = None) -> list[DataSnapshot]:
    if benchmark is not None:
        known_benchmark(benchmark)
    return repo.listed(session, benchmark)


def find_snapshot(session: Session, benchmark: str, snapshot_date: str) -> DataSnapshot:
    """The snapshot of a benchmark at a date (YYYY-MM-DD, or ``latest``); 404 in words when there is none."""
    known_benchmark(benchmark)
    if snapshot_date == LATEST:
        found = repo.newest(session, benchmark)
        if found is None:
            raise NotFoundError(f"there is no snapshot of {benchmark} yet")
        return found
    found = repo.find(session, benchmark, snapshot_date)
    if found is None:
        dates = [row.snapshot_date for row in repo.listed(session, benchmark)[:5]]
        known = f"; the newest: {', '.join(dates)}" if dates else "; there is none yet"
        raise NotFoundError(f"there is no snapshot of {benchmark} on {snapshot_date}{known}")
    return found


def snapshot_file(root: Path, snapshot: DataSnapshot, file: str) -> Path:
    """The path of one of a snapshot's files; 404 for another name or a file that is gone."""
    if file not in FILES:
        raise NotFoundError(f"a snapshot has the files {', '.join(f + '.parquet' for f in FILES)}")
    path = snapshot_directory(root, snapshot.benchmark, snapshot.snapshot_date) / f"{file}.parquet"
    if not path.is_file():
        raise NotFoundError(
            f"the {file}.parquet of the {snapshot.benchmark} snapshot of {snapshot.snapshot_date} is missing "
            "on this server; a maintainer can make the snapshot again"
        )
    return path


def file_sha256(snapshot: DataSnapshot, file: str) -> str:
    sha: str = snapshot.manifest["files"][file]["sha256"]
    return sha


# Describing --------------------------------------------------------------------------------------------


def snapshot_path(benchmark: str, snapshot_date: str) -> str:
    return f"/api/v1/snapshots/{benchmark}/{snapshot_date}"


def manifest_of(snapshot: DataSnapshot, base_url: str) -> SnapshotManifest:
    """The stored manifest with the URLs of the manifest, its files and the board at its date."""
    base = base_url.rstrip("/")
    here = snapshot_path(snapshot.benchmark, snapshot.snapshot_date)
    manifest = snapshot.manifest
    files = {
        name: SnapshotFile.model_validate({**described, "url": f"{base}{here}/{name}.parquet"})
        for name, described in manifest["files"].items()
    }
    board_query = urlencode({"benchmark": snapshot.benchmark, "snapshot": snapshot.snapshot_date})
    return SnapshotManifest.model_validate(
        {
            **manifest,
            "files": files,
            "url": f"{base}{here}",
            "board_url": f"{base}/api/v1/leaderboard?{board_query}",
        }
    )


def summary_of(snapshot: DataSnapshot, base_url: str) -> SnapshotSummary:
    here = snapshot_path(snapshot.benchmark, snapshot.snapshot_date)
    return SnapshotSummary(
        benchmark=snapshot.benchmark,
        date=snapshot.snapshot_date,
        scoring_version=snapshot.scoring_version,
        created_at=utc(snapshot.created_at),
        created_by=snapshot.created_by,
        rows={name: int(file["rows"]) for name, file in snapshot.manifest.get("files", {}).items()},
        url=base_url.rstrip("/") + here,
    )
