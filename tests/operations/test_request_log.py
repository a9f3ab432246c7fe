"""Request ids and the request log: X-Request-ID taken when safe and echoed, else made; one JSON line per
request (method, route template, status, duration, id); the id on every line logged during the request,
threads included; 5xx lines at once as warnings; batches handed on by their timer; text format; the JSON
request line equal to what the generic formatter writes; the switches."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.http.log_format import JsonFormatter, RequestIdFilter, RequestLine, RequestLinesRecord, request_id
from app.http.request_log import new_request_id
from app.main import create_app
from tests.operations.health_factories import settings_for

GENERATED_ID = re.compile(r"[0-9a-f]{16}")


def app_for(db_url: str, tmp_path: Path, **settings: Any) -> FastAPI:
    app = create_app(settings_for(db_url, tmp_path, **settings))

    def inside() -> dict[str, str]:  # a plain def: FastAPI runs it in a worker thread
        logging.getLogger("tests.operations").warning("logged inside the request")
        return {"ok": "yes"}

    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-only/inside", inside)
    app.add_api_route("/test-only/boom", boom)
    return app


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def request_lines(err: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(err) if line["logger"] == "rewardboard.request"]


def flush(client: TestClient) -> None:
    client.app.state.request_lines.flush()  # type: ignore[attr-defined]


def test_request_ids_are_taken_when_safe_echoed_and_made_otherwise(db_url: str, tmp_path: Path) -> None:
    with TestClient(app_for(db_url, tmp_path)) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:x_y-z"}).headers["x-request-id"]
        too_long = client.get("/healthz", headers={"X-Request-ID": "a" * 65}).headers["x-request-id"]
        unsafe = client.get("/healthz", headers={"X-Request-ID": 'x"; DROP'}).headers["x-request-id"]
        made = [client.get("/healthz").headers["x-request-id"] for _ in range(3)]
    assert given == "lb-7f3a.2:x_y-z"
    assert GENERATED_ID.fullmatch(too_long) and GENERATED_ID.fullmatch(unsafe)
    assert all(GENERATED_ID.fullmatch(rid) for rid in made) and len(set(made)) == 3


def test_one_json_line_per_request_with_the_route_template(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="json")) as client:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "trace-1"})
        missing = client.get("/api/v1/models/some-org/some-model")
        flush(client)
    lines = request_lines(capsys.readouterr().err)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/models/{org}/{name}", 404),
    ]
    assert lines[0]["request_id"] == "trace-1"
    assert lines[1]["request_id"] == missing.headers["x-request-id"]
    for line in lines:
        assert line["level"] == "INFO" and 0 <= line["duration_ms"] < 60_000
        assert line["message"] == f"GET {line['route']} {line['status']} {line['duration_ms']:.1f} ms"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_the_request_id_is_on_every_line_logged_while_it_is_answered(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="json")) as client:
        capsys.readouterr()
        answer = client.get("/test-only/inside", headers={"X-Request-ID": "trace-inside"})
        logging.getLogger("tests.operations").warning("logged outside any request")
        flush(client)
    assert answer.status_code == 200
    lines = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "tests.operations"]
    assert [(line["message"], line.get("request_id")) for line in lines] == [
        ("logged inside the request", "trace-inside"),
        ("logged outside any request", None),
    ]


def test_a_server_error_is_logged_at_once_as_a_warning_with_its_id(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="json")) as client:
        capsys.readouterr()
        answer = client.get("/test-only/boom")
        err = capsys.readouterr().err  # no flush: a 5xx line goes out with its request
    assert answer.status_code == 500
    rid = answer.headers["x-request-id"]
    [line] = request_lines(err)
    assert (line["level"], line["route"], line["status"], line["request_id"]) == (
        "WARNING",
        "/test-only/boom",
        500,
        rid,
    )
    [error] = [entry for entry in json_lines(err) if entry["logger"] == "app.http.server_errors"]
    assert error["request_id"] == rid and "RuntimeError: boom" in error["exception"]


def test_a_batch_is_handed_on_by_its_timer(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="json")) as client:
        capsys.readouterr()
        client.get("/healthz")
        time.sleep(0.1)
        assert request_lines(capsys.readouterr().err) == []  # still in its batch
        deadline = time.monotonic() + 5
        lines: list[dict[str, Any]] = []
        while not lines and time.monotonic() < deadline:
            time.sleep(0.1)
            lines = request_lines(capsys.readouterr().err)
    assert [line["route"] for line in lines] == ["/healthz"]


def test_text_lines_carry_the_request_id(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="text")) as client:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "trace-text"})
        flush(client)
    [line] = [text for text in capsys.readouterr().err.splitlines() if "rewardboard.request" in text]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rewardboard.request "
        r"\[trace-text\] GET /healthz 200 \d+\.\d ms",
        line,
    )


def test_the_request_line_is_what_the_generic_formatter_writes() -> None:
    line = RequestLine(
        time.time(), logging.INFO, "GET", "/api/v1/models/{org}/{name}", 404, 0.012345, "abc-1"
    )
    fast = JsonFormatter().format(RequestLinesRecord("rewardboard.request", [line]))
    record = logging.LogRecord("rewardboard.request", line.level, __file__, 0, line.message, None, None)
    record.created = line.created
    for key in ("method", "route", "status", "duration_ms"):
        setattr(record, key, getattr(line, key))
    token = request_id.set(line.request_id)
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    assert fast == JsonFormatter().format(record)
    assert json.loads(fast)["duration_ms"] == 12.3


def test_request_log_off_keeps_ids_and_metrics(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(app_for(db_url, tmp_path, log_format="json", request_log=False)) as client:
        capsys.readouterr()
        echoed = client.get("/healthz").headers.get("x-request-id")
        metrics = client.get("/metrics").text
        flush(client)
    assert echoed is not None and request_lines(capsys.readouterr().err) == []
    assert 'route="/healthz"' in metrics
    with TestClient(app_for(db_url, tmp_path, request_log=False, metrics_enabled=False)) as client:
        assert "x-request-id" not in client.get("/healthz").headers


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_uvicorn_access_log_is_off_while_the_request_log_is_on(
    db_url: str, tmp_path: Path, log_format: str
) -> None:
    access = logging.getLogger("uvicorn.access")
    saved = (access.level, access.propagate, list(access.handlers))
    try:
        access.setLevel(logging.INFO)
        access.addHandler(logging.NullHandler())  # as uvicorn's own logging config leaves it
        app_for(db_url, tmp_path, log_format=log_format)
        # uvicorn prepares an access line for every request when the logger has a handler up its tree
        assert not access.hasHandlers() and not access.isEnabledFor(logging.INFO)
    finally:
        access.setLevel(saved[0])
        access.propagate = saved[1]
        access.handlers[:] = saved[2]


def test_made_request_ids_differ_in_a_forked_child() -> None:
    parent = [new_request_id() for _ in range(3)]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.write(write, new_request_id().encode("ascii"))
        os._exit(0)
    os.waitpid(child, 0)
    made_there = os.read(read, 64).decode("ascii")
    os.close(read)
    os.close(write)
    assert all(GENERATED_ID.fullmatch(rid) for rid in [*parent, made_there])
    assert len(set(parent)) == 3
    assert made_there[:8] != parent[0][:8]  # its own random half, not the parent's
