"""GET /api/v1/snapshots: data snapshots of each benchmark by date, their manifests and Parquet files.

A file is streamed from disk (Range requests work, as ``datasets`` and fsspec use them) with its sha256 as
ETag; a matching If-None-Match gets a 304. The database is read in a short unit of work before the file
goes out, so no connection is held while it streams.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from app.api.deps import SessionDep, SessionFactoryDep, SettingsDep, query_model, query_openapi
from app.api.http_cache import etag_matches
from app.db.session import unit_of_work
from app.errors import DomainError
from app.schemas.snapshots import SnapshotList, SnapshotListQuery, SnapshotManifest, snapshot_date
from app.services.operations.snapshot_tables import PARQUET_MEDIA_TYPE
from app.services.operations.snapshots import (
    file_sha256,
    find_snapshot,
    list_snapshots,
    manifest_of,
    snapshot_file,
    snapshot_root,
    summary_of,
)

router = APIRouter(prefix="/snapshots", tags=["snapshots"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown benchmark, date or file"}}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    200: {"content": {PARQUET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
    206: {"description": "the byte range asked for (Range)"},
    304: {"description": "unchanged since the ETag sent in If-None-Match"},
}


def _checked_date(value: str) -> str:
    try:
        return snapshot_date(value)
    except ValueError as error:
        raise DomainError(str(error), 422) from None


@router.get("", response_model=SnapshotList, openapi_extra=query_openapi(SnapshotListQuery))
def get_snapshots(
    request: Request,
    session: SessionDep,
    query: Annotated[SnapshotListQuery, Depends(query_model(SnapshotListQuery))],
) -> SnapshotList:
    """Every kept snapshot, newest first (``benchmark=`` for one benchmark's)."""
    base = str(request.base_url)
    return SnapshotList(snapshots=[summary_of(row, base) for row in list_snapshots(session, query.benchmark)])


@router.get("/{benchmark}/{date}", response_model=SnapshotManifest, responses=NOT_FOUND)
def get_snapshot(request: Request, session: SessionDep, benchmark: str, date: str) -> SnapshotManifest:
    """A snapshot's manifest (``latest`` for the newest): rows, sha256, bytes and columns of each file, with
    their URLs; load one with ``datasets.load_dataset("parquet", data_files=URL)``."""
    return manifest_of(find_snapshot(session, benchmark, _checked_date(date)), str(request.base_url))


@router.get(
    "/{benchmark}/{date}/{file}.parquet",
    response_class=FileResponse,
    responses=FILE_RESPONSES,
    name="snapshot_file",
)
def get_snapshot_file(
    request: Request,
    sessions: SessionFactoryDep,
    settings: SettingsDep,
    benchmark: str,
    date: str,
    file: str,
) -> Response:
    """One file of a snapshot: ``results.parquet`` (one row per ranked result) or ``examples.parquet`` (one
    row per scored example of those results). ETag: its sha256."""
    with unit_of_work(sessions) as session:
        snapshot = find_snapshot(session, benchmark, _checked_date(date))
        path = snapshot_file(snapshot_root(settings), snapshot, file)
        etag = f'"{file_sha256(snapshot, file)}"'
        name = f"rewardboard-{snapshot.benchmark}-{snapshot.snapshot_date}-{file}.parquet"
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return FileResponse(
        path,
        media_type=PARQUET_MEDIA_TYPE,
        headers={"ETag": etag, "Content-Disposition": f'attachment; filename="{name}"'},
    )
