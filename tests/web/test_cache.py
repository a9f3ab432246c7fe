"""The in-process leaderboard cache: keyed by data version; one refresher, the last body served meanwhile."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.services.presentation.leaderboard_cache import LeaderboardCache
from tests.web.factories import make_result


def test_rebuilds_when_the_data_version_changes(db_session: Session) -> None:
    cache = LeaderboardCache(version_probe_seconds=0.0)
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return f"body {len(builds)}".encode()

    first = cache.get_or_build(db_session, "key", build)
    assert cache.get_or_build(db_session, "key", build) is first and len(builds) == 1
    make_result(db_session, "org/model", 0.5)
    second = cache.get_or_build(db_session, "key", build)
    assert second.body == b"body 2" and second.etag != first.etag


def test_one_refresher_while_others_get_the_last_body(db_session: Session) -> None:
    cache = LeaderboardCache(version_probe_seconds=3600.0)
    assert cache.lookup("key") is None  # nothing cached yet: the caller builds
    entry = cache.get_or_build(db_session, "key", lambda: b"body")
    assert cache.lookup("key") is entry  # fresh: served without the database
    cache.version_probe_seconds = 0.0  # the probe is now due
    assert cache.lookup("key") is None  # the first caller refreshes...
    assert cache.lookup("key") is entry  # ...the others keep getting the last body meanwhile
    cache.get_or_build(db_session, "key", lambda: b"body")
    assert cache.lookup("key") is None  # the refresh finished; the next due probe is claimed again
