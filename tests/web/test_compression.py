"""Pages and JSON go out gzipped when the client accepts it; the cached leaderboard bodies are compressed
once, when built, not per request."""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient

from app.http import compression
from app.http.compression import accepts_gzip

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


def raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body as sent (not decoded) and the headers."""
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, path
        return b"".join(response.iter_raw()), dict(response.headers)


@pytest.mark.parametrize("value", ["gzip", "br, gzip;q=0.8", "*", "GZIP, deflate"])
def test_accepts_gzip(value: str) -> None:
    assert accepts_gzip(value)


@pytest.mark.parametrize("value", [None, "", "identity", "br", "gzip;q=0", "deflate, gzip;q=0.0"])
def test_does_not_accept_gzip(value: str | None) -> None:
    assert not accepts_gzip(value)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/v1/leaderboard",
        "/api/v1/leaderboard?format=csv",
        "/about",
        "/api/v1/benchmarks",
        "/static/style.css",
    ],
)
def test_compressed_when_accepted_and_the_same_bytes_unpacked(
    client: TestClient, seeded: None, path: str
) -> None:
    packed, packed_headers = raw(client, path, GZIP)
    plain, plain_headers = raw(client, path, PLAIN)
    assert packed_headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain_headers
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 3
    assert "Accept-Encoding" in packed_headers["vary"] and "Accept-Encoding" in plain_headers["vary"]
    assert int(packed_headers["content-length"]) == len(packed)


def test_a_compressed_answer_revalidates_with_its_weak_etag(client: TestClient, seeded: None) -> None:
    for path in ("/", "/about", "/api/v1/leaderboard"):
        _, headers = raw(client, path, GZIP)
        assert headers["etag"].startswith('W/"')
        again = client.get(path, headers={**GZIP, "If-None-Match": headers["etag"]})
        assert again.status_code == 304, path


def test_cached_leaderboards_are_compressed_once(
    client: TestClient, seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = compression.gzip_bytes

    def counting(body: bytes) -> bytes:
        calls.append(len(body))
        return real(body)

    monkeypatch.setattr(compression, "gzip_bytes", counting)
    monkeypatch.setattr("app.services.presentation.leaderboard_cache.gzip_bytes", counting)
    client.app.state.leaderboard_cache.version_probe_seconds = 3600.0  # type: ignore[attr-defined]
    for path in ("/", "/api/v1/leaderboard"):
        first, _ = raw(client, path, GZIP)
        built = len(calls)
        assert built >= 1  # the body was compressed when it was built
        for _ in range(3):
            again, headers = raw(client, path, GZIP)
            assert again == first and headers["content-encoding"] == "gzip"
        assert len(calls) == built, f"{path} was compressed again per request"


def test_event_streams_are_not_buffered_or_compressed(client: TestClient) -> None:
    with client.stream("GET", "/api/v1/queue/events", headers=GZIP) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers


def test_static_files_are_compressed_once_per_version(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = compression.gzip_bytes

    def counting(body: bytes) -> bytes:
        calls.append(len(body))
        return real(body)

    monkeypatch.setattr(compression, "gzip_bytes", counting)
    first, _ = raw(client, "/static/style.css", GZIP)
    for _ in range(3):
        again, headers = raw(client, "/static/style.css", GZIP)
        assert again == first and headers["content-encoding"] == "gzip"
    assert len(calls) == 1
