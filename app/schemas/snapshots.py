"""Data snapshots in the API: the list, a manifest with its file URLs, and the board at a snapshot's date."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from app.schemas.leaderboard import LeaderboardApiQuery, LeaderboardPage, LeaderboardQuery
from app.schemas.query import BenchmarkId, QueryModel

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def snapshot_date(value: str) -> str:
    """YYYY-MM-DD (a real date) or ``latest``."""
    if value == "latest":
        return value
    if not _DATE.fullmatch(value):
        raise ValueError("a snapshot date is YYYY-MM-DD (UTC) or latest")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a date") from None
    return value


SnapshotDate = Annotated[
    str,
    Field(max_length=10, description="a snapshot's date, YYYY-MM-DD (UTC), or latest"),
    AfterValidator(snapshot_date),
]


class SnapshotListQuery(QueryModel):
    benchmark: BenchmarkId | None = Field(default=None, description="only this benchmark's snapshots")


class SnapshotAt(BaseModel):
    snapshot: SnapshotDate | None = Field(
        default=None,
        description="the board as it was in the snapshot of this date (YYYY-MM-DD, or latest); "
        "see /api/v1/snapshots",
    )


class SnapshotBoardQuery(LeaderboardQuery, SnapshotAt):
    """The leaderboard page's query, with an optional snapshot date."""


class SnapshotBoardApiQuery(LeaderboardApiQuery, SnapshotAt):
    """The leaderboard API's query, with an optional snapshot date."""


class SnapshotColumn(BaseModel):
    name: str
    type: str = Field(description="its Arrow type")


class SnapshotFile(BaseModel):
    name: str = Field(description="results.parquet or examples.parquet")
    rows: int
    sha256: str = Field(description="of the file's bytes; also its ETag")
    bytes: int
    columns: list[SnapshotColumn]
    url: str = Field(description="where to download it (load with datasets.load_dataset('parquet', ...))")


class SnapshotBoardInfo(BaseModel):
    rule: str
    sections: list[str]
    score_sections: list[str]
    subsets: list[str]
    interval_method: str
    rank_rule: str


class SnapshotManifest(BaseModel):
    format: str
    format_version: int
    benchmark: str
    benchmark_label: str
    date: str = Field(description="YYYY-MM-DD (UTC)")
    scoring_version: str = Field(description="the benchmark's scoring version when it was made")
    created_at: datetime
    created_by: str = Field(description="schedule, or the maintainer who made it")
    files: dict[str, SnapshotFile] = Field(description="results (one row per ranked result) and examples")
    board: SnapshotBoardInfo
    url: str = Field(description="this manifest")
    board_url: str = Field(description="the board as it was, as JSON")


class SnapshotSummary(BaseModel):
    benchmark: str
    date: str
    scoring_version: str
    created_at: datetime
    created_by: str
    rows: dict[str, int] = Field(description="rows of each file")
    url: str = Field(description="its manifest")


class SnapshotList(BaseModel):
    snapshots: list[SnapshotSummary] = Field(description="newest first")


class SnapshotsMade(BaseModel):
    snapshots: list[SnapshotManifest]
    expired: list[str] = Field(description="snapshots deleted as older than SNAPSHOT_KEEP_DAYS")


class SnapshotReference(BaseModel):
    date: str
    created_at: datetime
    scoring_version: str
    manifest_url: str


class SnapshotBoardPage(LeaderboardPage):
    """The board as it was: today's board shape, with the snapshot it was read from."""

    snapshot: SnapshotReference
