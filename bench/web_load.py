"""Load test of the web app on PostgreSQL: 1,000 models x 23 subsets, ~3M pair rows; wrk on loopback.

    python bench/web_load.py                       # fill (if needed), serve, measure, report
    python bench/web_load.py --refill --models 1000 --workers 2 --duration 10

It creates (or reuses) a separate database, ``rewardboard_bench`` by default, next to the one named by
``--postgres-url`` (default: $TEST_POSTGRES_URL, else postgres on 127.0.0.1), migrates it with our
migrations, fills it with COPY, starts ``uvicorn app.main:app`` on 127.0.0.1 with several workers, then
measures requests/s and latency percentiles for ``/`` and ``/api/v1/leaderboard`` with ``wrk`` (a
bounded Python load generator when wrk is not installed). The database is left in place for reruns.

``--stall-hub`` adds a run with ``--stall-connections`` (200) connections on ``/`` twice in one server:
once with the Hub idle, once while the Hub stand-in (tests/support/hub_server.py) hangs every request and
``--stalled-validations`` clients keep posting dry runs that wait on it; it prints p50/p99 and errors of
both, and the answers the dry runs got.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.commands.database import upgrade  # noqa: E402
from app.db.session import make_engine  # noqa: E402
from app.services.results.intervals import Interval, bootstrap  # noqa: E402
from worker.engine.benchmarks import get_benchmark  # noqa: E402
from worker.engine.types import ScoredExample  # noqa: E402

V1 = get_benchmark("rewardbench-v1")
SUBSETS = {subset.name: subset for subset in V1.required_subsets(("core",))}
CURRENT_SCORING_VERSION = V1.current_scoring_version
aggregate = V1.aggregate

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NULL = "\\N"  # COPY text format
MODEL_TYPES = ("classifier", "custom-classifier", "dpo", "generative")
PATHS = ("/api/v1/leaderboard", "/")


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(base_url: str, name: str, refill: bool) -> tuple[str, bool]:
    """The SQLAlchemy URL of the bench database, and whether it must be filled."""
    with psycopg.connect(libpq(base_url), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and refill:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    if exists:
        with psycopg.connect(libpq(url)) as connection:
            try:
                count = connection.execute("SELECT count(*) FROM evaluation_result").fetchone()
            except psycopg.errors.UndefinedTable:
                count = None
        if count and count[0] > 0:
            return url, False
    return url, True


def _copy(cursor: psycopg.Cursor[tuple[object, ...]], table: str, columns: str, rows: Iterator[str]) -> int:
    written = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in rows:
            buffer.write(line)
            written += 1
            if written % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return written


@dataclass
class FillStats:
    models: int
    subset_rows: int
    pair_rows: int
    seconds: float


def scored_examples(correct: dict[str, int], subset_ids: dict[str, int]) -> Iterator[ScoredExample]:
    """One model's pair rows as the engine's scored examples: the first ``correct[subset]`` right."""
    for name, subset in SUBSETS.items():
        for i in range(subset.rows):
            right = i < correct[name]
            yield ScoredExample(
                name, subset_ids[name] + i, (0.9, 0.1) if right else (0.1, 0.9), 1, float(right)
            )


def fill(url: str, models: int, seed: int, interval_resamples: int) -> FillStats:
    """Synthetic but consistent data: pair rows add up to the subset accuracies, which make the aggregates."""
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    subset_ids = {name: index * 10_000 for index, name in enumerate(SUBSETS)}
    model_lines, result_lines, subset_lines = [], [], []
    correct_by_model: list[dict[str, int]] = []
    section_lines: list[str] = []
    for m in range(1, models + 1):
        if m % 100 == 0:
            print(f"  {m} of {models} models (intervals: {interval_resamples} resamples each)", flush=True)
        model_type = MODEL_TYPES[m % len(MODEL_TYPES)]
        hub_id = f"bench-org-{m % 40:02d}/reward-model-{m:04d}"
        params = rng.choice((None, 350_000_000, 2_000_000_000, 7_000_000_000, 13_000_000_000))
        model_lines.append(f"{m}\t{hub_id}\t{hub_id}\tt\t{params or NULL}\t{NULL}\t{NULL}\t{now}\n")
        skill = rng.uniform(0.45, 0.95)
        correct = {
            name: max(0, min(subset.rows, round(subset.rows * (skill + rng.uniform(-0.15, 0.15)))))
            for name, subset in SUBSETS.items()
        }
        correct_by_model.append(correct)
        accuracies = {name: correct[name] / SUBSETS[name].rows for name in SUBSETS}
        agg = aggregate(accuracies)
        imported = m % 10 == 0
        source, detail = ("imported", f"bench-{m:04d}.json") if imported else ("evaluated", NULL)
        # The stored intervals come from the real bootstrap over the same examples the pair rows hold.
        intervals = bootstrap(V1, list(scored_examples(correct, subset_ids)), resamples=interval_resamples)
        score_bounds = intervals.score or Interval(agg.score or 0.0, agg.score or 0.0)
        result_lines.append(
            f"{m}\t{m}\t{NULL}\trewardbench-v1\t\t{CURRENT_SCORING_VERSION}\tmain\t{NULL}\t{model_type}\t"
            f"tokenizer\t{{}}\t{agg.score}\t{score_bounds.low}\t{score_bounds.high}\t{intervals.status.value}\t"
            f"{intervals.version}\tt\t{{}}\t{source}\t{detail}\tt\t{now}\n"
        )
        section_lines += [
            f"{m}\t{section}\t{value}\t{intervals.sections[section].low}\t{intervals.sections[section].high}\n"
            for section, value in agg.sections.items()
        ]
        for name, subset in SUBSETS.items():
            subset_lines.append(f"{m}\t{name}\t{subset.rows}\t{correct[name]}\t{accuracies[name]}\n")

    def example_lines() -> Iterator[str]:
        for m, correct in enumerate(correct_by_model, start=1):
            for name, subset in SUBSETS.items():
                base = subset_ids[name]
                wins = correct[name]
                for i in range(subset.rows):
                    scores, outcome = ("[0.9, 0.1]", 1) if i < wins else ("[0.1, 0.9]", 0)
                    yield f"{m}\t{name}\t{base + i}\t{scores}\t1\t{outcome}\n"

    with psycopg.connect(libpq(url)) as connection, connection.cursor() as cursor:
        _copy(
            cursor,
            "reward_model",
            "id, hub_id, display_name, hub_repo, parameter_count, license, base_model, created_at",
            iter(model_lines),
        )
        _copy(
            cursor,
            "evaluation_result",
            "id, reward_model_id, submission_id, benchmark, benchmark_version, scoring_version, revision, "
            "commit, model_type, chat_template, config, score, score_low, score_high, interval_status, "
            "interval_version, complete, reproducibility, source, source_detail, is_current, created_at",
            iter(result_lines),
        )
        _copy(cursor, "section_score", "result_id, section, value, low, high", iter(section_lines))
        subsets = _copy(cursor, "subset_score", "result_id, subset, n, correct, value", iter(subset_lines))
        pairs = _copy(
            cursor,
            "example_result",
            "result_id, subset, example_id, scores, num_correct, outcome",
            example_lines(),
        )
        for table in ("reward_model", "evaluation_result"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        connection.commit()
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        connection.execute("ANALYZE")
    return FillStats(models, subsets, pairs, time.perf_counter() - started)


def start_server(url: str, workers: int, port: int, hub_url: str | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        "CLIENT_VALIDATION_LIMIT": "1000000",
    }
    if hub_url:
        env["HF_ENDPOINT"] = hub_url
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/sections")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    raise SystemExit("the server did not start within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Measurement:
    path: str
    tool: str
    connections: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def measure_wrk(port: int, path: str, connections: int, seconds: int) -> Measurement:
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d2s", url], check=True, capture_output=True
    )  # warm-up
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(value) for value in socket_errors.groups())
    return Measurement(
        path,
        "wrk",
        connections,
        seconds,
        requests,
        rate,
        _ms(percentiles["50"]),
        _ms(percentiles["99"]),
        errors,
    )


def measure_python(
    port: int, path: str, connections: int, seconds: int, max_requests: int = 200_000
) -> Measurement:
    """Fallback: keep-alive connections in threads, bounded by time and count (the client costs CPU too)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local: list[float] = []
        while time.monotonic() < deadline and len(latencies) + len(local) < max_requests:
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            local.append((time.perf_counter() - started) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(local)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return Measurement(
        path,
        "python",
        connections,
        round(elapsed, 2),
        len(latencies),
        len(latencies) / elapsed,
        quantiles[49],
        quantiles[98],
        errors[0],
    )


@dataclass
class StalledChecks:
    sent: int
    statuses: dict[int, int]
    errors: int


def flood_validations(port: int, clients: int, stop: threading.Event) -> StalledChecks:
    """``clients`` loops posting dry runs until ``stop``; each waits on the stalled Hub or is turned away.
    Only the answers that came while the Hub stalled (before ``stop``) are counted."""
    statuses: dict[int, int] = {}
    errors = [0]
    lock = threading.Lock()
    body = json.dumps({"model": "bench-org/stalled-model"})

    def client() -> None:
        while not stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request(
                    "POST", "/api/v1/submissions/validate", body, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                if not stop.is_set():
                    with lock:
                        statuses[response.status] = statuses.get(response.status, 0) + 1
            except OSError:
                if not stop.is_set():
                    with lock:
                        errors[0] += 1
            finally:
                connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=70)
    return StalledChecks(sum(statuses.values()) + errors[0], statuses, errors[0])


def measure_under_stalled_hub(
    port: int, hub: Any, connections: int, seconds: int, validations: int
) -> tuple[Measurement, Measurement, StalledChecks]:
    idle = measure_python(port, "/", connections, seconds)
    hub.stall()
    stop = threading.Event()
    outcome: list[StalledChecks] = []
    flood = threading.Thread(target=lambda: outcome.append(flood_validations(port, validations, stop)))
    flood.start()
    try:
        time.sleep(2)  # the dry runs are waiting on the Hub or being turned away by now
        stalled = measure_python(port, "/", connections, seconds)
    finally:
        stop.set()
        time.sleep(0.5)
        hub.release()
        flood.join(timeout=90)
    return idle, stalled, outcome[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL") or DEFAULT_URL)
    parser.add_argument("--database", default="rewardboard_bench")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--refill", action="store_true", help="drop and fill the bench database again")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured path")
    parser.add_argument("--seed", type=int, default=20240320)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--interval-resamples",
        type=int,
        default=200,
        help="bootstrap resamples per model when filling (the service uses 1000; fewer keeps the fill short)",
    )
    parser.add_argument("--stall-hub", action="store_true", help="also measure / while the Hub stalls")
    parser.add_argument("--stall-connections", type=int, default=200)
    parser.add_argument("--stalled-validations", type=int, default=50)
    args = parser.parse_args()

    url, needs_fill = ensure_database(args.postgres_url, args.database, args.refill)
    report: dict[str, object] = {
        "database": make_url(url).database,
        "cpus": os.cpu_count(),
        "workers": args.workers,
    }
    if needs_fill:
        stats = fill(url, args.models, args.seed, args.interval_resamples)
        report["fill"] = asdict(stats)
        print(
            f"filled {stats.models} models, {stats.subset_rows} subset rows, {stats.pair_rows} pair rows "
            f"in {stats.seconds:.1f} s",
            flush=True,
        )
    from tests.support.hub_server import HubServer

    hub = HubServer().start()
    server = start_server(url, args.workers, args.port, hub.url)
    results: list[Measurement] = []
    labels: list[str] = []
    stalled_checks: StalledChecks | None = None
    try:
        for path in PATHS:
            if shutil.which("wrk"):
                results.append(measure_wrk(args.port, path, args.connections, args.duration))
            else:
                results.append(measure_python(args.port, path, args.connections, args.duration))
            labels.append("")
        if args.stall_hub:
            idle, stalled, stalled_checks = measure_under_stalled_hub(
                args.port, hub, args.stall_connections, args.duration, args.stalled_validations
            )
            results += [idle, stalled]
            labels += ["Hub idle", "Hub stalled"]
    finally:
        stop_server(server)
        hub.stop()
    labelled = zip(results, labels, strict=True)
    report["results"] = [{**asdict(result), "label": label} for result, label in labelled]
    header = ("path", "tool", "conns", "requests", "req/s", "p50 ms", "p99 ms", "errors", "")
    print("{:<24}{:<8}{:>6}{:>10}{:>10}{:>9}{:>9}{:>8}  {}".format(*header))
    for r, label in zip(results, labels, strict=True):
        print(
            f"{r.path:<24}{r.tool:<8}{r.connections:>6}{r.requests:>10}{r.requests_per_s:>10.0f}"
            f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}  {label}"
        )
    if stalled_checks is not None:
        report["stalled_checks"] = asdict(stalled_checks)
        counts = sorted(stalled_checks.statuses.items())
        answers = ", ".join(f"{count} x {status}" for status, count in counts)
        print(
            f"dry runs while the Hub stalled: {stalled_checks.sent} sent by "
            f"{args.stalled_validations} clients; answers: {answers or 'none'}; "
            f"connection errors: {stalled_checks.errors}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
