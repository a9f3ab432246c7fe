"""Data snapshots: the seeded boards and a few evaluated results with their scored examples, written as
Parquet, checked against the database and the manifest, loaded with ``datasets`` from a live server, and
read back as the board of a past date; replaced on the same date, pruned by age, refused on a full disk.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import errno
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import DataSnapshot, EvaluationResult, ExampleResult, ResultVisibility
from app.db.session import unit_of_work
from app.services.operations import audit, snapshot_tables
from app.services.operations.snapshots import (
    SnapshotWriteError,
    make_and_prune,
    make_snapshot,
    prune_snapshots,
    remove_directories,
    snapshot_root,
)
from app.services.results.seed import seed_if_empty
from tests.submissions.conftest import free_port, wait_until
from tests.support.web_app import board_app
from tests.web.factories import make_result, sample_pairs, scores_for
from worker.engine.benchmarks import BENCHMARKS, get_benchmark

TOKEN = "snapshot-test-operator-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TODAY = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
V1 = "rewardbench-v1"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url, data_dir=tmp_path / "data", secret_key="test-only-secret", admin_token=TOKEN
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return board_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def add_evaluated_results(factory: sessionmaker[Session]) -> dict[str, int]:
    """Four evaluated v1 results with their scored examples: two plain, one a maintainer hid, one flagged.
    Model name -> result id."""
    pairs = sample_pairs()
    with unit_of_work(factory) as session:
        ids = {
            name: make_result(
                session, name, accuracy, scored=scores_for(pairs, wrong_every=every), examples=pairs
            ).id
            for name, accuracy, every in (
                ("org/alpha", 0.91, 4),
                ("org/beta", 0.62, 3),
                ("org/hidden", 0.99, 5),
                ("org/flagged", 0.55, 2),
            )
        }
        for name, visibility in (
            ("org/hidden", ResultVisibility.HIDDEN),
            ("org/flagged", ResultVisibility.FLAGGED),
        ):
            session.execute(
                update(EvaluationResult)
                .where(EvaluationResult.id == ids[name])
                .values(visibility=visibility, visibility_reason=f"{visibility} in a test")
            )
    return ids


@pytest.fixture
def evaluated(db_session_factory: sessionmaker[Session]) -> dict[str, int]:
    return add_evaluated_results(db_session_factory)


@pytest.fixture
def board(db_session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Both published boards (what a fresh database is seeded with), the four evaluated results and one
    of a type the board shows apart (ranked only when its type is asked for)."""
    with unit_of_work(db_session_factory) as session:
        assert seed_if_empty(session)
        apart = make_result(session, "org/ref-free", 0.8, model_type="dpo-ref-free").id
    return {**add_evaluated_results(db_session_factory), "org/ref-free": apart}


def snapshot_now(
    factory: sessionmaker[Session], settings: Settings, benchmark: str = V1, *, at: datetime = TODAY
) -> DataSnapshot:
    with unit_of_work(factory) as session:
        outcome = make_and_prune(session, settings, benchmark, created_by="schedule", now=at)
    remove_directories(outcome.expired)
    return outcome.snapshot


def board_result_ids(session: Session, benchmark: str) -> set[int]:
    """What a snapshot must hold, asked of the database directly: current complete results, not hidden."""
    statement = select(EvaluationResult.id).where(
        EvaluationResult.benchmark == benchmark,
        EvaluationResult.is_current.is_(True),
        EvaluationResult.complete.is_(True),
        EvaluationResult.visibility != ResultVisibility.HIDDEN,
    )
    return set(session.scalars(statement))


def stored_examples(session: Session, result_ids: set[int]) -> dict[tuple[int, str, str], list[float | None]]:
    statement = select(
        ExampleResult.result_id, ExampleResult.subset, ExampleResult.example_id, ExampleResult.scores
    ).where(ExampleResult.result_id.in_(result_ids))
    return {(row[0], row[1], row[2]): list(row[3]) for row in session.execute(statement)}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_of(settings: Settings, benchmark: str, day: str) -> Path:
    return snapshot_root(settings) / benchmark / day


# The files ------------------------------------------------------------------------------------------------


def test_a_snapshot_holds_the_board_and_every_scored_example(
    db_session_factory: sessionmaker[Session], settings: Settings, board: dict[str, int]
) -> None:
    made = {benchmark: snapshot_now(db_session_factory, settings, benchmark) for benchmark in BENCHMARKS}
    with db_session_factory() as session:
        for benchmark, snapshot in made.items():
            folder = files_of(settings, benchmark, "2026-12-07")
            assert sorted(path.name for path in folder.iterdir()) == ["examples.parquet", "results.parquet"]
            manifest = snapshot.manifest
            assert manifest["benchmark"] == benchmark and manifest["date"] == "2026-12-07"
            assert manifest["scoring_version"] == get_benchmark(benchmark).current_scoring_version
            assert manifest["created_by"] == "schedule" and manifest["created_at"].startswith(
                "2026-12-07T09:30"
            )
            for name in ("results", "examples"):
                path = folder / f"{name}.parquet"
                described = manifest["files"][name]
                assert described["sha256"] == sha256_of(path)
                assert described["bytes"] == path.stat().st_size
                assert described["rows"] == pq.ParquetFile(path).metadata.num_rows
                assert [column["name"] for column in described["columns"]] == pq.read_schema(path).names

            results = pq.read_table(folder / "results.parquet").to_pylist()
            expected = board_result_ids(session, benchmark)
            assert {row["result_id"] for row in results} == expected
            assert len(results) == manifest["files"]["results"]["rows"] == len(expected)
            definition = get_benchmark(benchmark)
            assert list(results[0]["sections"]) == [section.name for section in definition.sections]
            assert list(results[0]["subsets"]) == [subset.name for subset in definition.subsets]

            examples = pq.read_table(folder / "examples.parquet").to_pylist()
            stored = stored_examples(session, expected)
            assert {
                (row["result_id"], row["subset"], row["example_id"]): row["scores"] for row in examples
            } == stored
            assert len(examples) == manifest["files"]["examples"]["rows"] == len(stored)
            per_result = {row["result_id"]: row["examples"] for row in results}
            assert sum(per_result.values()) == len(stored)

    v1_rows = {
        row["model"]: row
        for row in pq.read_table(files_of(settings, V1, "2026-12-07") / "results.parquet").to_pylist()
    }
    assert "org/hidden" not in v1_rows  # hidden by a maintainer: left out
    assert v1_rows["org/flagged"]["visibility"] == "flagged"
    assert v1_rows["org/flagged"]["visibility_reason"] == "flagged in a test"
    alpha = v1_rows["org/alpha"]
    assert alpha["examples"] == len(sample_pairs()) and alpha["commit"] == "0123456789abcdef"
    assert alpha["score_low"] is not None and alpha["section_intervals"]["Chat"] is not None
    assert alpha["subsets"]["alpacaeval-easy"] == pytest.approx(0.91)
    assert v1_rows["org/beta"]["rank"] > alpha["rank"]


def test_examples_are_read_and_written_in_batches(
    db_session_factory: sessionmaker[Session], settings: Settings, evaluated: dict[str, int]
) -> None:
    """Pages of 40 rows (each result has 92): several database pages per result, and several row groups."""
    with unit_of_work(db_session_factory) as session:
        make_snapshot(
            session,
            root=snapshot_root(settings),
            benchmark=V1,
            created_by="schedule",
            now=TODAY,
            batch_rows=40,
        )
    parquet = pq.ParquetFile(files_of(settings, V1, "2026-12-07") / "examples.parquet")
    assert parquet.metadata.num_rows == 3 * len(sample_pairs())
    groups = [parquet.metadata.row_group(index).num_rows for index in range(parquet.num_row_groups)]
    assert len(groups) > 1 and max(groups) < 2 * 40  # a row group once 40 rows are waiting
    with db_session_factory() as session:
        stored = stored_examples(session, board_result_ids(session, V1))
    rows = parquet.read().to_pylist()
    assert {(row["result_id"], row["subset"], row["example_id"]): row["scores"] for row in rows} == stored
    assert len(rows) == len(stored)  # none twice


def test_the_snapshot_is_in_the_audit_log(
    db_session_factory: sessionmaker[Session], settings: Settings, evaluated: dict[str, int]
) -> None:
    snapshot_now(db_session_factory, settings)
    with db_session_factory() as session:
        [entry] = audit.changelog(session, actions=["snapshot_made"])
    assert entry.actor == "schedule" and entry.benchmark == V1 and entry.subject_id == f"{V1}/2026-12-07"
    assert entry.detail["examples"] == 3 * len(sample_pairs())


# Loading with datasets over HTTP ------------------------------------------------------------------------


class LiveServer:
    """The app on a real uvicorn server on 127.0.0.1, in a thread (datasets reads URLs through fsspec)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, interval=0.05, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def test_datasets_loads_a_snapshot_made_by_a_maintainer_from_a_live_server(
    app: FastAPI,
    db_session_factory: sessionmaker[Session],
    board: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datasets
    import httpx

    # The server is on loopback: an environment that keeps datasets off the Hub must not refuse it.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)

    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.post("/api/v1/admin/snapshots").status_code == 401
        made = http.post("/api/v1/admin/snapshots", headers=AUTH)
        assert made.status_code == 201, made.text
        assert {manifest["benchmark"] for manifest in made.json()["snapshots"]} == set(BENCHMARKS)
        listed = http.get("/api/v1/snapshots", params={"benchmark": V1}).json()["snapshots"]
        assert [(entry["benchmark"], entry["created_by"]) for entry in listed] == [(V1, "operator")]
        manifest = http.get(f"/api/v1/snapshots/{V1}/latest").json()
        assert manifest["url"] == listed[0]["url"]

        loaded = {
            name: datasets.load_dataset(
                "parquet",
                data_files=manifest["files"][name]["url"],
                cache_dir=str(tmp_path / "hf"),
                split="train",
            )
            for name in ("results", "examples")
        }
    for name, dataset in loaded.items():
        assert dataset.num_rows == manifest["files"][name]["rows"]
    with db_session_factory() as session:
        expected = board_result_ids(session, V1)
        stored = stored_examples(session, expected)
    assert set(loaded["results"]["result_id"]) == expected
    rows = loaded["examples"].select_columns(["result_id", "subset", "example_id", "scores"])
    assert {(row["result_id"], row["subset"], row["example_id"]): row["scores"] for row in rows} == stored
    assert loaded["results"].features["sections"].keys() == {
        section.name for section in get_benchmark(V1).sections
    }


def test_a_file_is_served_with_its_sha256_as_etag_and_ranges(
    client: TestClient,
    db_session_factory: sessionmaker[Session],
    settings: Settings,
    evaluated: dict[str, int],
) -> None:
    snapshot = snapshot_now(db_session_factory, settings)
    url = f"/api/v1/snapshots/{V1}/2026-12-07/examples.parquet"
    sha = snapshot.manifest["files"]["examples"]["sha256"]

    answer = client.get(url)
    assert answer.status_code == 200 and answer.headers["etag"] == f'"{sha}"'
    assert answer.headers["content-type"] == "application/vnd.apache.parquet"
    assert hashlib.sha256(answer.content).hexdigest() == sha
    assert client.get(url, headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert client.get(f"/api/v1/snapshots/{V1}/latest/examples.parquet").headers["etag"] == f'"{sha}"'

    tail = client.get(url, headers={"Range": "bytes=-8"})
    assert tail.status_code == 206 and tail.content == answer.content[-8:] and tail.content.endswith(b"PAR1")
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(answer.content)

    for missing, words in (
        (f"/api/v1/snapshots/{V1}/2026-12-06", "no snapshot of rewardbench-v1 on 2026-12-06"),
        (f"/api/v1/snapshots/{V1}/2026-12-07/other.parquet", "results.parquet, examples.parquet"),
        ("/api/v1/snapshots/no-such-board/latest", "unknown benchmark"),
        ("/api/v1/snapshots/rewardbench-v2/latest", "no snapshot of rewardbench-v2 yet"),
    ):
        refused = client.get(missing)
        assert refused.status_code == 404 and words in refused.json()["detail"], missing
    bad = client.get(f"/api/v1/snapshots/{V1}/2026-02-30")
    assert bad.status_code == 422 and "not a date" in bad.json()["detail"]


# The board at a past date --------------------------------------------------------------------------------


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A board row with its time as an aware UTC instant (SQLite hands stored times back naive)."""
    moment = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    return {**row, "created_at": moment if moment.tzinfo else moment.replace(tzinfo=UTC)}


def test_the_board_at_a_past_snapshot_is_the_board_of_that_day(
    client: TestClient, db_session_factory: sessionmaker[Session], settings: Settings, board: dict[str, int]
) -> None:
    views: list[dict[str, str | int]] = [
        {"benchmark": V1},
        {"benchmark": V1, "sort": "chat-hard", "order": "asc", "per_page": 50, "page": 2},
        {"benchmark": V1, "model_type": "dpo", "q": "MATTER"},
        {"benchmark": V1, "model_type": "dpo-ref-free"},
        {"benchmark": V1, "source": "evaluated", "sort": "model"},
        {"benchmark": "rewardbench-v2", "sort": "parameters"},
    ]
    before = [client.get("/api/v1/leaderboard", params=view).json() for view in views]
    assert all(then["rows"] for then in before)  # every view shows something to compare
    # The rows each view lists over all its pages (the live total also counts the types shown apart).
    listed = [
        len(client.get("/api/v1/leaderboard", params={**view, "page": 1, "per_page": 1000}).json()["rows"])
        for view in views
    ]
    yesterday = TODAY - timedelta(days=1)
    for benchmark in BENCHMARKS:
        snapshot_now(db_session_factory, settings, benchmark, at=yesterday)
    with unit_of_work(db_session_factory) as session:
        make_result(session, "org/newcomer", 0.97)
    assert any(row["model"] == "org/newcomer" for row in client.get("/api/v1/leaderboard").json()["rows"])

    for view, then, count in zip(views, before, listed, strict=True):
        past = client.get("/api/v1/leaderboard", params={**view, "snapshot": "2026-12-06"})
        assert past.status_code == 200, past.text
        body = past.json()
        assert body.pop("snapshot")["date"] == "2026-12-06"
        # The lists kept apart are not in a snapshot: it counts none of them.
        assert (body.pop("partial_runs"), body.pop("hidden_results", 0)) == (0, 0)
        then.pop("partial_runs"), then.pop("hidden_results", None)
        assert body.pop("total") == count
        then.pop("total")
        assert [comparable(row) for row in body.pop("rows")] == [comparable(row) for row in then.pop("rows")]
        assert body == then, view
    csv_then = client.get("/api/v1/leaderboard", params={"format": "csv", "snapshot": "latest"})
    assert (
        csv_then.status_code == 200 and "org/alpha" in csv_then.text and "org/newcomer" not in csv_then.text
    )

    page = client.get("/", params={"snapshot": "2026-12-06"})
    assert page.status_code == 200 and "As of 2026-12-06" in page.text
    assert "org/alpha" in page.text and "org/newcomer" not in page.text and "org/hidden" not in page.text
    assert "As of" not in client.get("/").text and "org/newcomer" in client.get("/").text

    unknown = client.get("/api/v1/leaderboard", params={"snapshot": "2026-11-01"})
    assert (
        unknown.status_code == 404
        and "no snapshot of rewardbench-v1 on 2026-11-01" in unknown.json()["detail"]
    )
    assert "2026-12-06" in unknown.json()["detail"]  # the dates there are
    assert client.get("/", params={"snapshot": "2026-11-01"}).status_code == 404
    assert client.get("/api/v1/leaderboard", params={"snapshot": "yesterday"}).status_code == 422
    partial = client.get("/api/v1/leaderboard", params={"snapshot": "latest", "partial": "true"})
    assert partial.status_code == 422 and "ranked board only" in partial.json()["detail"]


# Same date, retention, full disk ---------------------------------------------------------------------------


def test_making_it_again_the_same_day_replaces_that_days_snapshot(
    db_session_factory: sessionmaker[Session], settings: Settings, evaluated: dict[str, int]
) -> None:
    first = snapshot_now(db_session_factory, settings)
    with unit_of_work(db_session_factory) as session:
        make_result(session, "org/newcomer", 0.97, scored=scores_for(sample_pairs()), examples=sample_pairs())
    second = snapshot_now(db_session_factory, settings, at=TODAY + timedelta(hours=5))
    folder = files_of(settings, V1, "2026-12-07")
    assert sorted(path.name for path in folder.iterdir()) == [
        "examples.parquet",
        "results.parquet",
    ]  # no temp files
    results, examples = (second.manifest["files"][name] for name in ("results", "examples"))
    assert results["rows"] == first.manifest["files"]["results"]["rows"] + 1
    assert examples["rows"] == first.manifest["files"]["examples"]["rows"] + len(sample_pairs())
    assert (
        sha256_of(folder / "examples.parquet")
        == examples["sha256"]
        != first.manifest["files"]["examples"]["sha256"]
    )
    with db_session_factory() as session:
        rows = session.scalars(select(DataSnapshot).where(DataSnapshot.benchmark == V1)).all()
        assert [(row.snapshot_date, row.manifest["created_at"][11:16]) for row in rows] == [
            ("2026-12-07", "14:30")
        ]
        assert [
            entry.detail["replaced"] for entry in audit.changelog(session, actions=["snapshot_made"])
        ] == [True, False]


def test_snapshots_older_than_the_kept_days_go_with_their_files_but_never_the_newest(
    db_session_factory: sessionmaker[Session], settings: Settings, evaluated: dict[str, int]
) -> None:
    for days_ago in (40, 35, 10):
        snapshot_now(db_session_factory, settings, at=TODAY - timedelta(days=days_ago))
    folder = snapshot_root(settings) / V1
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith(".")) == [
        "2026-10-28",
        "2026-11-02",
        "2026-11-27",
    ]  # each made before anything was 30 days older than it
    snapshot_now(db_session_factory, settings)  # today: the two older than 30 days go
    with db_session_factory() as session:
        dates = session.scalars(select(DataSnapshot.snapshot_date).order_by(DataSnapshot.snapshot_date)).all()
    assert dates == ["2026-11-27", "2026-12-07"]
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith(".")) == dates

    with unit_of_work(db_session_factory) as session:
        expired = prune_snapshots(
            session, root=snapshot_root(settings), benchmark=V1, keep_days=1, today=date(2027, 6, 1)
        )
    remove_directories(expired)
    assert [path.name for path in expired] == ["2026-11-27"]  # the newest stays, however old
    with db_session_factory() as session:
        assert session.scalars(select(DataSnapshot.snapshot_date)).all() == ["2026-12-07"]
    assert (folder / "2026-12-07" / "results.parquet").is_file() and not (folder / "2026-11-27").exists()


class FullDiskWriter:
    """A Parquet writer on a disk that fills up at the first row group."""

    def __init__(self, path: Path, schema: Any) -> None:
        self.inner = pq.ParquetWriter(path, schema)

    def write_table(self, table: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.inner.close()


def test_a_full_disk_keeps_the_previous_snapshot_and_says_why(
    client: TestClient,
    db_session_factory: sessionmaker[Session],
    settings: Settings,
    evaluated: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = snapshot_now(db_session_factory, settings)
    folder = files_of(settings, V1, "2026-12-07")
    with unit_of_work(db_session_factory) as session:
        make_result(session, "org/newcomer", 0.97, scored=scores_for(sample_pairs()), examples=sample_pairs())
    monkeypatch.setattr(snapshot_tables, "open_parquet_writer", FullDiskWriter)

    with pytest.raises(SnapshotWriteError) as failure, unit_of_work(db_session_factory) as session:
        make_snapshot(session, root=snapshot_root(settings), benchmark=V1, created_by="schedule", now=TODAY)
    assert failure.value.status_code == 507
    assert "disk is full" in failure.value.message and "previous snapshot is kept" in failure.value.message
    asked_on = datetime.now(UTC).date().isoformat()  # a maintainer's snapshot is of the day it is asked for
    refused = client.post("/api/v1/admin/snapshots", params={"benchmark": V1}, headers=AUTH)
    days = {asked_on, datetime.now(UTC).date().isoformat()}
    assert refused.status_code == 507
    assert any(f"rewardbench-v1 snapshot of {day}" in refused.json()["detail"] for day in days)

    assert sorted(path.name for path in folder.iterdir()) == ["examples.parquet", "results.parquet"]
    for name in ("results", "examples"):
        assert sha256_of(folder / f"{name}.parquet") == before.manifest["files"][name]["sha256"]
    with db_session_factory() as session:
        [kept] = session.scalars(select(DataSnapshot)).all()
        assert kept.manifest == before.manifest
        assert len(audit.changelog(session, actions=["snapshot_made"])) == 1
    served = client.get(f"/api/v1/snapshots/{V1}/2026-12-07/results.parquet")
    assert (
        served.status_code == 200
        and hashlib.sha256(served.content).hexdigest() == before.manifest["files"]["results"]["sha256"]
    )


# The schedule and the command line -------------------------------------------------------------------------


def test_the_scheduled_task_is_safe_to_run_twice(
    db_url: str, db_session_factory: sessionmaker[Session], tmp_path: Path, evaluated: dict[str, int]
) -> None:
    from worker.celery_app import app as celery_app
    from worker.settings import WorkerSettings
    from worker.snapshot_schedule import TASK_MAKE_SNAPSHOTS, beat_schedule
    from worker.snapshot_tasks import run_snapshots

    assert TASK_MAKE_SNAPSHOTS in celery_app.tasks
    entry = celery_app.conf.beat_schedule["daily-data-snapshots"]
    assert entry["task"] == TASK_MAKE_SNAPSHOTS and entry["schedule"].hour == {3}
    assert beat_schedule(Settings(snapshot_hour_utc=17))["daily-data-snapshots"]["schedule"].hour == {17}

    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path / "worker-data")
    first = run_snapshots(list(BENCHMARKS), settings, created_by="schedule")
    again = run_snapshots(list(BENCHMARKS), settings, created_by="schedule")
    assert first == again and len(first) == len(BENCHMARKS)
    with db_session_factory() as session:
        rows = session.scalars(select(DataSnapshot)).all()
        assert len(rows) == len(BENCHMARKS) and {row.created_by for row in rows} == {"schedule"}
        assert session.scalar(select(func.count()).select_from(DataSnapshot)) == len(BENCHMARKS)


def test_the_snapshot_command(
    db_url: str,
    db_session_factory: sessionmaker[Session],
    tmp_path: Path,
    evaluated: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main
    from app.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "cli-data"))
    get_settings.cache_clear()
    try:
        assert main(["snapshot", "--benchmark", V1]) == 0
    finally:
        get_settings.cache_clear()
    with db_session_factory() as session:
        [row] = session.scalars(select(DataSnapshot)).all()
        expected = board_result_ids(session, V1)
        examples = len(stored_examples(session, expected))
    assert row.benchmark == V1 and row.created_by == "operator" and examples == 3 * len(sample_pairs())
    assert f"{len(expected)} results, {examples} examples" in capsys.readouterr().out
    assert (tmp_path / "cli-data" / "snapshots" / V1 / row.snapshot_date / "results.parquet").is_file()


def test_the_worker_runs_beat_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.commands import service
    from worker.celery_app import app as celery_app

    argv: list[list[str]] = []
    monkeypatch.setattr(celery_app, "worker_main", lambda arguments: argv.append(list(arguments)))
    settings = Settings(data_dir=tmp_path / "beat-data")
    service.work(settings, concurrency=1, loglevel="INFO", beat=True)
    service.work(settings, concurrency=1, loglevel="INFO")
    with_beat, without = argv
    assert "--beat" in with_beat and "--beat" not in without
    assert with_beat[with_beat.index("--schedule") + 1] == str(tmp_path / "beat-data" / "celerybeat-schedule")
