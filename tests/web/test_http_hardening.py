"""What every request gets, on SQLite and PostgreSQL: a body-size limit read as it streams, refusal of NUL
and other control characters, a body that is not a JSON object refused in words, JSON errors under /api (500s
included), HEAD on every GET route, 405 where a method does not apply, security headers on every answer, and
CSV cells that never start a formula."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.http.body_limit import BodySizeLimitMiddleware
from app.http.security_headers import SECURITY_HEADERS
from tests.support.web_app import board_app
from tests.web.factories import make_result

JSON_HEADERS = {"Content-Type": "application/json"}


def assert_security_headers(headers: Any) -> None:
    for name, value in SECURITY_HEADERS:
        assert headers.get(name) == value, name
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "connect-src 'self'" in headers["content-security-policy"]


def test_declared_oversized_body_is_refused_with_413(client: TestClient, app: FastAPI) -> None:
    limit = app.state.settings.max_request_body_bytes
    body = b'{"model": "' + b"a" * (limit + 10) + b'"}'
    response = client.post("/api/v1/submissions/validate", content=body, headers=JSON_HEADERS)
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    assert_security_headers(response.headers)
    page = client.post("/submit", content=b"model=" + b"a" * (limit + 10))
    assert page.status_code == 413 and "text/html" in page.headers["content-type"]


def test_streamed_body_is_cut_at_the_limit_without_reading_the_rest() -> None:
    """A chunked upload without Content-Length: the middleware stops pulling chunks past the limit."""
    limit, chunk = 64 * 1024, b"x" * 16 * 1024
    pulled = 0
    reached_app: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        reached_app.append(size)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def endless_upload() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[MutableMapping[str, Any]] = []

    async def record(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/submissions", "headers": []}
    asyncio.run(BodySizeLimitMiddleware(app, max_bytes=limit)(scope, endless_upload, record))
    assert sent[0]["status"] == 413
    assert pulled == limit // len(chunk) + 1  # one chunk past the limit, then nothing more
    assert reached_app and reached_app[0] <= limit
    assert len(sent) == 2  # the 413 start and body; the app's own answer was dropped


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/models/a/b%00", 404),
        ("/models/a/b%00", 404),
        ("/api/v1/models/a%01/b", 404),
        ("/api/v1/models/a/b%FF", 404),
        ("/?q=%00", 422),
        ("/api/v1/leaderboard?q=%00", 422),
        ("/api/v1/leaderboard?q=a%1Fb", 422),
        ("/api/v1/models/a/b/examples?subset=%00", 422),
    ],
)
def test_control_characters_are_refused(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    if path.startswith("/api/"):
        assert "detail" in response.json()
    else:
        assert "text/html" in response.headers["content-type"]


def test_control_characters_in_a_json_body_are_a_422(client: TestClient) -> None:
    body = {"model": "org/name\u0000", "reference_model": "a\u0000"}
    response = client.post("/api/v1/submissions/validate", json=body)
    assert response.status_code == 422
    assert "control characters" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/v1/submissions", "/api/v1/submissions/validate"])
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b'{"model": "org/name",}',
            "the request body is not valid JSON (line 1, column 22: "
            "Expecting property name enclosed in double quotes)",
        ),
        (
            b'{\n  "model": org/name\n}',
            "the request body is not valid JSON (line 2, column 12: Expecting value)",
        ),
        (b"", "the request body is empty: send a JSON object"),
        (b'"org/name"', "the request body must be a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_in_words(
    client: TestClient, url: str, body: bytes, detail: str
) -> None:
    response = client.post(url, content=body, headers=JSON_HEADERS)
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": detail}


def test_unexpected_errors_are_json_under_api_and_a_page_elsewhere(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/test-boom", boom)
    app.add_api_route("/test-boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.get("/api/v1/test-boom")
        assert api.status_code == 500
        assert api.headers["content-type"] == "application/json"
        assert api.json() == {"detail": "Something went wrong on our side; the error was logged."}
        assert_security_headers(api.headers)
        page = client.get("/test-boom")
        assert page.status_code == 500 and "text/html" in page.headers["content-type"]
        assert "Something went wrong" in page.text


def get_paths(app: FastAPI) -> list[str]:
    """Every GET route's path template, included routers too (FastAPI >= 0.165 nests them)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(iterate(app.router.routes)) if iterate else list(app.routes)
    return [route.path for route in routes if "GET" in (getattr(route, "methods", None) or set())]


@pytest.mark.usefixtures("seeded")
def test_head_answers_on_every_get_route(client: TestClient, app: FastAPI) -> None:
    model = client.get("/api/v1/leaderboard").json()["rows"][0]["model"]
    org, name = model.split("/")
    samples = {
        "org": org,
        "name": name,
        "section": "chat",
        "subset": "alpacaeval-easy",
        "submission_id": "1",
        "benchmark": "rewardbench-v2",
        "date": "latest",
        "file": "results",
    }
    checked = 0
    for template in get_paths(app):
        path = template.format(**samples)
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        # /metrics counts every request, the GET just before included: its length changes each time.
        if get.status_code == 200 and "content-length" in get.headers and path != "/metrics":
            assert head.headers["content-length"] == get.headers["content-length"], path
        checked += 1
    assert checked >= 15
    assert client.head("/static/style.css").status_code == 200


def test_methods_that_do_not_apply_answer_405(client: TestClient) -> None:
    api = client.put("/api/v1/leaderboard")
    assert api.status_code == 405 and "detail" in api.json()
    assert "GET" in api.headers["allow"]
    page = client.delete("/")
    assert page.status_code == 405 and "text/html" in page.headers["content-type"]
    assert client.patch("/api/v1/submissions", json={}).status_code == 405
    assert client.put("/submit").status_code == 405


@pytest.mark.parametrize(
    "path", ["/", "/about", "/api/v1/leaderboard", "/static/style.css", "/docs", "/no-such-page", "/submit"]
)
def test_security_headers_on_every_answer(client: TestClient, path: str) -> None:
    assert_security_headers(client.get(path).headers)


def test_csv_cells_never_start_a_formula(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    hostile = {
        '=HYPERLINK("http://example.invalid","x")/m': "'=HYPERLINK(",
        "+cmd/m": "'+cmd",
        "-2+3/m": "'-2+3",
        "@SUM(A1)/m": "'@SUM(A1)",
    }
    with db_session_factory.begin() as session:
        for model in hostile:
            make_result(session, model, 0.6)
    response = client.get("/api/v1/leaderboard", params={"format": "csv", "per_page": 100})
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(response.text))}
    for model, start in hostile.items():
        assert ("'" + model) in rows, sorted(rows)
        assert rows["'" + model]["model"].startswith(start)
        assert float(rows["'" + model]["score"]) > 0  # numbers are left as numbers


@pytest.mark.parametrize(
    ("request_log", "metrics_enabled"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_security_headers_come_with_the_request_log_and_without_it(
    db_url: str, tmp_path: Path, request_log: bool, metrics_enabled: bool
) -> None:
    """With the request log or metrics on, their layer adds the security headers; with both off, a layer of
    their own does. Either way an answer's own header wins and each header is sent once."""
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key="test-only-secret",
        request_log=request_log,
        metrics_enabled=metrics_enabled,
    )
    application = board_app(settings)

    def framed() -> Response:
        return Response("framed", headers={"X-Frame-Options": "SAMEORIGIN"})

    application.add_api_route("/test-only/framed", framed)
    with TestClient(application) as test_client:
        answer = test_client.get("/api/v1/sections")
        own = test_client.get("/test-only/framed")
    assert_security_headers(answer.headers)
    assert ("x-request-id" in answer.headers) == (request_log or metrics_enabled)
    assert own.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert own.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert all(len(answer.headers.get_list(name)) == 1 for name, _ in SECURITY_HEADERS)
