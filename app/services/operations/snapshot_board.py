"""The board as it was: a snapshot's results.parquet read back as a leaderboard page.

The rows are today's board rows (same fields, same ranks as the board had that day), filtered, sorted and
paged as the live board does it, in memory: a snapshot holds only the ranked board (a few hundred rows).
Partial runs are not in a snapshot, so ``partial=true`` is refused in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import DataSnapshot
from app.db.session import unit_of_work
from app.errors import DomainError
from app.schemas.leaderboard import LeaderboardApiQuery, LeaderboardQuery, LeaderboardRow
from app.schemas.snapshots import SnapshotBoardPage, SnapshotReference
from app.services.operations.snapshot_tables import RESULTS, read_rows, utc
from app.services.operations.snapshots import (
    file_sha256,
    find_snapshot,
    snapshot_file,
    snapshot_path,
    snapshot_root,
)
from app.services.presentation.leaderboard import apart_types, leaderboard_csv
from app.services.results.intervals import bounds
from worker.engine.benchmarks import get_benchmark

_PLAIN_SORT: dict[str, str] = {
    "rank": "rank",
    "model": "model",
    "type": "model_type",
    "score": "score",
    "parameters": "parameters",
    "source": "source",
    "date": "created_at",
}


class SnapshotQueryError(DomainError):
    status_code = 422


def board_at(session: Session, root: Path, query: LeaderboardQuery, snapshot_date: str) -> SnapshotBoardPage:
    """The board of ``query.benchmark`` at a snapshot's date, filtered, sorted and paged as ``query`` asks."""
    if query.partial or getattr(query, "hidden", False):
        raise SnapshotQueryError(
            "a snapshot holds the ranked board only: partial runs and hidden results are not in it "
            "(leave out partial and hidden)"
        )
    snapshot = find_snapshot(session, query.benchmark, snapshot_date)
    rows = snapshot_rows(snapshot, root)
    board = snapshot.manifest["board"]
    listed = _filtered(rows, query)
    ordered = _sorted(listed, query)
    start = (query.page - 1) * query.per_page
    return SnapshotBoardPage(
        benchmark=snapshot.benchmark,
        rule=board["rule"],
        sections=board["sections"],
        score_sections=board["score_sections"],
        partial=False,
        partial_runs=0,
        total=len(listed),
        page=query.page,
        per_page=query.per_page,
        sort=query.sort,
        order=query.direction,
        interval_method=board["interval_method"],
        rank_rule=board["rank_rule"],
        rows=ordered[start : start + query.per_page],
        snapshot=SnapshotReference(
            date=snapshot.snapshot_date,
            created_at=utc(snapshot.created_at),
            scoring_version=snapshot.scoring_version,
            manifest_url=snapshot_path(snapshot.benchmark, snapshot.snapshot_date),
        ),
    )


def model_types_at(session: Session, root: Path, benchmark: str, snapshot_date: str) -> list[tuple[str, str]]:
    """(key, label) of the model types in a snapshot, for the page's type filter."""
    rows = snapshot_rows(find_snapshot(session, benchmark, snapshot_date), root)
    return sorted({(row.model_type, row.model_type_label) for row in rows})


def snapshot_rows(snapshot: DataSnapshot, root: Path) -> tuple[LeaderboardRow, ...]:
    """Every row of a snapshot as board rows (read once per file version)."""
    path = snapshot_file(root, snapshot, RESULTS)
    return _rows_of(str(path), file_sha256(snapshot, RESULTS))


@lru_cache(maxsize=16)
def _rows_of(path: str, sha256: str) -> tuple[LeaderboardRow, ...]:
    return tuple(_board_row(row) for row in read_rows(Path(path)))


def _board_row(record: dict[str, Any]) -> LeaderboardRow:
    intervals = {
        name: bounds(value["low"], value["high"]) if value else None
        for name, value in (record["section_intervals"] or {}).items()
    }
    return LeaderboardRow.model_validate(
        {
            **record,
            "score_interval": bounds(record["score_low"], record["score_high"]),
            "sections": dict(record["sections"] or {}),
            "section_intervals": intervals,
        }
    )


def _filtered(rows: Sequence[LeaderboardRow], query: LeaderboardQuery) -> list[LeaderboardRow]:
    apart = set(apart_types(query.model_type))
    needle = query.q.lower() if query.q else None
    return [
        row
        for row in rows
        if row.model_type not in apart
        and (query.model_type is None or row.model_type == query.model_type)
        and (query.source is None or row.source == query.source)
        and (needle is None or needle in row.model.lower() or needle in row.display_name.lower())
    ]


def _sorted(rows: Sequence[LeaderboardRow], query: LeaderboardQuery) -> list[LeaderboardRow]:
    """As the live board sorts: by the column (nulls last either way), then model and type."""
    value = _sort_value(query)
    tie_broken = sorted(rows, key=lambda row: (row.model, row.model_type))
    present = [row for row in tie_broken if value(row) is not None]
    missing = [row for row in tie_broken if value(row) is None]
    present.sort(key=value, reverse=query.direction == "desc")  # stable: ties keep model order
    return present + missing


def _sort_value(query: LeaderboardQuery) -> Callable[[LeaderboardRow], Any]:
    if query.sort in _PLAIN_SORT:
        name = _PLAIN_SORT[query.sort]
        return lambda row: getattr(row, name)
    slugs = {section.slug: section.name for section in get_benchmark(query.benchmark).sections}
    section = slugs[query.sort]
    return lambda row: row.sections.get(section)


def board_at_bytes(
    sessions: sessionmaker[Session], settings: Settings, query: LeaderboardApiQuery, snapshot_date: str
) -> bytes:
    """The board at a snapshot as the leaderboard API answers it: JSON, or CSV with ``format=csv``."""
    with unit_of_work(sessions) as session:
        page = board_at(session, snapshot_root(settings), query, snapshot_date)
    if query.format == "csv":
        return leaderboard_csv(page).encode()
    return page.model_dump_json().encode()
