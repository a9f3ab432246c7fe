"""A small in-process cache of rendered leaderboard bodies, valid for one data version."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.api.http_cache import make_etag
from app.db.repositories import leaderboard as repo
from app.http.compression import gzip_bytes


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    gzipped: bytes  # compressed once, when built
    etag: str
    version: tuple[int, ...]
    built_at: float


class LeaderboardCache:
    """Serialized leaderboard bodies (plain and gzipped) keyed by (kind, query), valid for one data version.

    The data version (result and model counts and max ids) is probed at most every
    ``version_probe_seconds``, so a process may serve a body up to that old. Entries also expire after
    ``ttl_seconds`` so edits that leave the version alone (a renamed model) show up. When an entry needs a
    new probe or a rebuild, one request does that work while the others keep getting the last body
    (no thundering herd every second).
    """

    def __init__(
        self, *, ttl_seconds: float = 30.0, version_probe_seconds: float = 1.0, max_entries: int = 256
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.version_probe_seconds = version_probe_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._version: tuple[int, ...] | None = None
        self._version_at = 0.0
        self._lock = threading.Lock()

    def lookup(self, key: Hashable) -> CachedBody | None:
        """The body to serve now without touching the database, or None: then call ``get_or_build``."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            fresh = (
                now - self._version_at < self.version_probe_seconds
                and entry.version == self._version
                and now - entry.built_at < self.ttl_seconds
            )
            if fresh or key in self._refreshing:
                return entry
            self._refreshing.add(key)
            return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._version = None

    def _current_version(self, session: Session, now: float) -> tuple[int, ...]:
        with self._lock:
            if self._version is not None and now - self._version_at < self.version_probe_seconds:
                return self._version
        version = repo.data_version(session)
        with self._lock:
            self._version, self._version_at = version, now
        return version

    def get_or_build(self, session: Session, key: Hashable, build: Callable[[], bytes]) -> CachedBody:
        """Probe the data version if due, and rebuild the body if it is stale (blocking)."""
        try:
            now = time.monotonic()
            version = self._current_version(session, now)
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.version == version and now - entry.built_at < self.ttl_seconds:
                    self._entries.move_to_end(key)
                    return entry
            body = build()
            entry = CachedBody(
                body=body, gzipped=gzip_bytes(body), etag=make_etag(body), version=version, built_at=now
            )
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return entry
        finally:
            with self._lock:
                self._refreshing.discard(key)


def cached_body(
    sessions: sessionmaker[Session], cache: LeaderboardCache, key: Hashable, build: Callable[[Session], bytes]
) -> CachedBody:
    """The cached body for ``key``, probing the data version and building it in a read-only session if needed.

    Blocking: call it from a worker thread. Nothing is written, so the session is only closed.
    """
    with sessions() as session:
        return cache.get_or_build(session, key, lambda: build(session))
