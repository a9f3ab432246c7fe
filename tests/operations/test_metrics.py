"""/metrics in the Prometheus text format, read back with prometheus-client's own parser, on SQLite and
PostgreSQL: request latency by route template (never the raw path), queue depth per worker class, runs by
state and failure kind, run durations by kind and benchmark, the Hub gate, worker heartbeat ages; the
database counts' cache; a database that is down; metrics switched off; multiprocess mode across two
uvicorn workers.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import SubmissionStatus
from app.db.session import unit_of_work
from app.services.intake.hub_gate import Deadline, HubGate
from app.services.operations.metrics import RUN_DURATION_BUCKETS, forget_dead_processes
from tests.operations.health_factories import TEST_SECRET, add_submission, beat, client_for, free_port
from tests.web.factories import make_result

REPO_ROOT = Path(__file__).resolve().parents[2]
LATENCY = "rewardboard_http_request_duration_seconds"


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    found = [s.value for s in samples(text) if s.name == name and s.labels == labels]
    return found[0] if found else None


def scrape(client: TestClient) -> str:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def test_latency_is_labelled_by_route_template(
    db_url: str, tmp_path: Path, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        make_result(session, "org-a/first-model")
        make_result(session, "org-b/second-model")
    with client_for(db_url, tmp_path) as client:
        assert client.get("/models/org-a/first-model").status_code == 200
        assert client.get("/models/org-b/second-model").status_code == 200
        assert client.get("/api/v1/models/org-a/first-model").status_code == 200
        assert client.head("/api/v1/models/org-b/second-model").status_code == 200
        assert client.get("/no/such/page").status_code == 404
        text = scrape(client)
    count = f"{LATENCY}_count"
    assert value(text, count, method="GET", route="/models/{org}/{name}", status_class="2xx") == 2
    assert value(text, count, method="GET", route="/api/v1/models/{org}/{name}", status_class="2xx") == 1
    assert value(text, count, method="HEAD", route="/api/v1/models/{org}/{name}", status_class="2xx") == 1
    assert value(text, count, method="GET", route="unmatched", status_class="4xx") == 1
    routes = {s.labels["route"] for s in samples(text) if s.name.startswith(LATENCY)}
    assert not any("first-model" in route or "second-model" in route or "such" in route for route in routes)
    buckets = [
        s
        for s in samples(text)
        if s.name == f"{LATENCY}_bucket" and s.labels["route"] == "/models/{org}/{name}"
    ]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 2


def test_queues_runs_durations_and_heartbeats_come_from_the_database(
    db_url: str, tmp_path: Path, db_session_factory: sessionmaker[Session]
) -> None:
    durations = [90.0, 400.0, 400.0, 5000.0]
    with unit_of_work(db_session_factory) as session:
        add_submission(session, "org/q1", queue="evaluations-80g")
        add_submission(session, "org/q2", queue="evaluations-80g")
        add_submission(session, "org/q3", queue="evaluations-4g")
        add_submission(session, "org/run", status=SubmissionStatus.RUNNING, run_seconds=None)
        for index, seconds in enumerate(durations):
            add_submission(
                session, f"org/done-{index}", status=SubmissionStatus.SUCCEEDED, run_seconds=seconds
            )
        add_submission(
            session, "org/dpo", status=SubmissionStatus.SUCCEEDED, model_type="dpo", run_seconds=30
        )
        for index in range(2):
            add_submission(
                session, f"org/late-{index}", status=SubmissionStatus.FAILED, failure_kind="timeout"
            )
        add_submission(session, "org/oom", status=SubmissionStatus.FAILED, failure_kind="out_of_memory")
    beat(db_session_factory, "celery@gpu-1", age_s=42)
    with client_for(db_url, tmp_path) as client:
        text = scrape(client)
    assert value(text, "rewardboard_database_up") == 1
    assert value(text, "rewardboard_queue_depth", queue="evaluations-80g") == 2
    assert value(text, "rewardboard_queue_depth", queue="evaluations-4g") == 1
    assert value(text, "rewardboard_queue_depth", queue="evaluations-16g") == 0  # every class listed
    assert value(text, "rewardboard_runs", state="queued", failure_kind="") == 3
    assert value(text, "rewardboard_runs", state="running", failure_kind="") == 1
    assert value(text, "rewardboard_runs", state="succeeded", failure_kind="") == len(durations) + 1
    assert value(text, "rewardboard_runs", state="failed", failure_kind="timeout") == 2
    assert value(text, "rewardboard_runs", state="failed", failure_kind="out_of_memory") == 1
    classifier = {"kind": "classifier", "benchmark": "rewardbench-v1"}
    assert value(text, "rewardboard_run_duration_seconds_count", **classifier) == len(durations)
    total = value(text, "rewardboard_run_duration_seconds_sum", **classifier)
    assert total == pytest.approx(sum(durations), abs=1)
    for bound in RUN_DURATION_BUCKETS:
        expected = sum(1 for seconds in durations if seconds <= bound)
        le = f"{float(bound)}"  # as prometheus-client writes "le": 60.0
        assert value(text, "rewardboard_run_duration_seconds_bucket", **classifier, le=le) == expected, bound
    dpo = {"kind": "dpo", "benchmark": "rewardbench-v1"}
    assert value(text, "rewardboard_run_duration_seconds_count", **dpo) == 1
    age = value(text, "rewardboard_worker_heartbeat_age_seconds", worker="celery@gpu-1")
    assert age is not None and 42 <= age < 100


def test_database_counts_are_cached_for_the_configured_time(
    db_url: str, tmp_path: Path, db_session_factory: sessionmaker[Session]
) -> None:
    def queued_after_one_more(cache_s: float) -> tuple[float | None, float | None]:
        with client_for(db_url, tmp_path, metrics_db_cache_s=cache_s) as client:
            before = value(scrape(client), "rewardboard_queue_depth", queue="evaluations-4g")
            with unit_of_work(db_session_factory) as session:
                add_submission(session, f"org/one-more-{cache_s}")
            return before, value(scrape(client), "rewardboard_queue_depth", queue="evaluations-4g")

    assert queued_after_one_more(3600) == (0, 0)
    assert queued_after_one_more(0) == (1, 2)


def test_hub_gate_slots_in_use_and_waiting(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path, hub_concurrency=1, hub_queue_wait_s=30) as client:
        gate: HubGate = client.app.state.hub_gate  # type: ignore[attr-defined]
        release = threading.Event()

        def hold(_: Deadline) -> None:
            release.wait(30)

        callers = [threading.Thread(target=lambda: asyncio.run(gate.run(hold))) for _ in range(2)]
        for caller in callers:
            caller.start()
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while (gate.busy, gate.waiting) != (1, 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        text = scrape(client)
        release.set()
        for caller in callers:
            caller.join(timeout=30)
        after = scrape(client)
    assert value(text, "rewardboard_hub_gate_slots") == 1
    assert value(text, "rewardboard_hub_gate_busy") == 1
    assert value(text, "rewardboard_hub_gate_waiting") == 1
    assert (value(after, "rewardboard_hub_gate_busy"), value(after, "rewardboard_hub_gate_waiting")) == (0, 0)


def test_a_database_that_is_down_does_not_fail_the_scrape(tmp_path: Path) -> None:
    missing = f"sqlite:///{(tmp_path / 'moved-away.db').as_posix()}"
    with client_for(missing, tmp_path) as client:
        client.get("/healthz")
        text = scrape(client)
    assert value(text, "rewardboard_database_up") == 0
    assert value(text, f"{LATENCY}_count", method="GET", route="/healthz", status_class="2xx") == 1
    assert value(text, "rewardboard_queue_depth", queue="evaluations-4g") is None


def test_metrics_switched_off(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path, metrics_enabled=False) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "METRICS_ENABLED" in answer.json()["detail"]


def test_metrics_are_not_in_the_api_description(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "/metrics" not in paths
    assert {"/healthz", "/readyz"} <= set(paths)


def test_live_gauges_of_dead_processes_are_dropped(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = int(finished.stdout)
    for pid in (dead, os.getpid()):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    (tmp_path / f"histogram_{dead}.db").write_bytes(b"")
    assert forget_dead_processes(str(tmp_path)) == [dead]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"gauge_livesum_{os.getpid()}.db", f"histogram_{dead}.db"]
    )


@pytest.fixture
def two_workers(sqlite_url: str, sqlite_engine: object, tmp_path: Path) -> Iterator[int]:
    """``uvicorn --workers 2`` on the test database, prometheus-client in multiprocess mode."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": TEST_SECRET,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "HUB_CONCURRENCY": "3",
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError((tmp_path / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _answers(port: int) -> bool:
    try:
        _get(port, "/healthz")
        return True
    except OSError:
        return False


def _get(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.read().decode()
    finally:
        connection.close()


@pytest.mark.slow
def test_multiprocess_mode_adds_up_every_worker(two_workers: int) -> None:
    port = two_workers
    time.sleep(1.5)  # both workers up, each having sampled its Hub gate
    requests = 60
    for _ in range(requests):  # new connections: the kernel hands them to either worker
        _get(port, "/api/v1/benchmarks")
    deadline = time.monotonic() + 15
    counted = None
    while time.monotonic() < deadline:  # the other worker hands its batch on within 0.2 s
        text = _get(port, "/metrics")
        counted = value(
            text, f"{LATENCY}_count", method="GET", route="/api/v1/benchmarks", status_class="2xx"
        )
        if counted == requests:
            break
        time.sleep(0.2)
    assert counted == requests
    assert value(text, "rewardboard_hub_gate_slots") == 2 * 3  # both processes' gates, summed
    assert value(text, "rewardboard_database_up") == 1


def test_a_batch_of_latencies_makes_the_histogram_it_would_one_by_one(tmp_path: Path, db_url: str) -> None:
    from app.services.operations.metrics import REQUEST_BUCKETS

    seconds = [0.0004, 0.001, 0.0011, 0.02, 0.02, 0.7, 45.0]
    with client_for(db_url, tmp_path) as client:
        latency = client.app.state.metrics.requests  # type: ignore[attr-defined]
        latency.observe_many(("GET", "/probe", "2xx", value) for value in seconds[:4])
        latency.observe_many(("GET", "/probe", "2xx", value) for value in seconds[4:])
        text = client.get("/metrics").text
    labels = {"method": "GET", "route": "/probe", "status_class": "2xx"}
    for bound in (*REQUEST_BUCKETS, float("inf")):
        le = "+Inf" if bound == float("inf") else f"{float(bound)}"
        expected = sum(1 for value in seconds if value <= bound)
        assert value(text, f"{LATENCY}_bucket", **labels, le=le) == expected, le
    assert value(text, f"{LATENCY}_count", **labels) == len(seconds)
    assert value(text, f"{LATENCY}_sum", **labels) == pytest.approx(sum(seconds))
    assert "duration_parts" not in text  # the counters behind it are not exposed
