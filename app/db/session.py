"""Engine and session factory shared by the web app and the worker."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings

_FILE_IDENTITY = "rewardboard_file_identity"


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How many connections a process keeps and opens, and how long a request waits for one."""

    size: int = 10
    max_overflow: int = 20
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolOptions:
        return cls(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s)


def make_engine(url: str, pool: PoolOptions | None = None, *, create_sqlite_file: bool = True) -> Engine:
    """An engine whose connections are checked before use, so a database that comes back is used again.

    ``create_sqlite_file=False`` (the web app) never creates a missing SQLite file: a database file that
    was moved away answers errors until it is back, instead of a new empty database taking its place.
    """
    pool = pool or PoolOptions()
    pool_args: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": pool.size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.timeout_s,
    }
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_args, create_file=create_sqlite_file)
    return create_engine(url, **pool_args)


def _sqlite_engine(url: str, pool_args: dict[str, Any], *, create_file: bool) -> Engine:
    database = url.split("///", 1)[-1]
    on_disk = bool(database) and database != ":memory:"
    if on_disk and create_file:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    if not on_disk:
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    path = Path(database)

    def connect() -> sqlite3.Connection:
        mode = "rwc" if create_file else "rw"
        return sqlite3.connect(
            f"file:{quote(path.as_posix())}?mode={mode}", uri=True, check_same_thread=False, timeout=30
        )

    engine = create_engine(url, creator=connect, **pool_args)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        record.info[_FILE_IDENTITY] = _file_identity(path)

    @event.listens_for(engine, "checkout")
    def _same_file(dbapi_connection, record, proxy):  # type: ignore[no-untyped-def]
        # A SQLite connection stays bound to the file it opened: if the file at the path is gone or is
        # another file now, this connection is stale; the pool then opens a new one.
        if record.info.get(_FILE_IDENTITY) != _file_identity(path):
            raise DisconnectionError(f"{path} is not the database file this connection opened")

    return engine


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


@lru_cache(maxsize=4)
def engine_for(url: str, pool: PoolOptions | None = None, *, create_sqlite_file: bool = True) -> Engine:
    return make_engine(url, pool, create_sqlite_file=create_sqlite_file)


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url())


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error. The single commit point of a step."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work on the given engine (the configured one by default)."""
    with unit_of_work(session_factory(engine)) as session:
        yield session
