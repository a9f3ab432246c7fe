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

``--overhead`` measures what the metrics and the request log cost the cached leaderboard JSON, in one run:
two servers on the same database, one with ``METRICS_ENABLED=false REQUEST_LOG=false``, one with both on
(JSON log lines to a file, prometheus-client's multiprocess mode across the uvicorn workers), measured in
turn for ``--overhead-rounds`` rounds (the first of each pair alternating), then requests/s of each, the
loss in percent (of the medians) and checks that the lines were written and counted. A raw ASGI app
returning the same body is measured once beside them, for scale. With ``--overhead-together`` each round
loads both servers in the same seconds instead of one after the other (on a machine shared with other
jobs, what the neighbours take then falls on both alike), and the CPU time per request is each server's
own over those seconds.
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
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


# --pin-servers: the CPUs the servers run on and those left to wrk (None: wherever the kernel puts them)
PINNED: dict[str, set[int] | None] = {"servers": None, "client": None}


def pinned_to(role: str) -> Any:
    """A ``preexec_fn`` that keeps a child (and everything it starts) on ``role``'s CPUs, or None."""
    cpus = PINNED[role]
    return None if cpus is None else lambda: os.sched_setaffinity(0, cpus)


def start_server(
    url: str,
    workers: int,
    port: int,
    hub_url: str | None = None,
    *,
    extra_env: dict[str, str] | None = None,
    stderr: Path | None = None,
    app: str = "app.main:app",
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        "CLIENT_VALIDATION_LIMIT": "1000000",
        **(extra_env or {}),
    }
    if hub_url:
        env["HF_ENDPOINT"] = hub_url
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
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
    log = stderr.open("ab") if stderr is not None else None
    try:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stderr=log,
            preexec_fn=pinned_to("servers"),
        )
    finally:
        if log is not None:
            log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/sections" if app == "app.main:app" else "/")
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


def _wrk_warm_up(url: str, connections: int) -> None:
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d2s", url],
        check=True,
        capture_output=True,
        preexec_fn=pinned_to("client"),
    )


def measure_wrk(port: int, path: str, connections: int, seconds: int, *, warm_up: bool = True) -> Measurement:
    url = f"http://127.0.0.1:{port}{path}"
    if warm_up:
        _wrk_warm_up(url, connections)
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=pinned_to("client"),
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        raise SystemExit(f"wrk gave no latency distribution for {url}:\n{output}")
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


LEADERBOARD_JSON = "/api/v1/leaderboard"
RAW_BODY_ENV = "WEB_LOAD_RAW_BODY"
BARE_ENV = {"METRICS_ENABLED": "false", "REQUEST_LOG": "false"}
INSTRUMENTED_ENV = {"METRICS_ENABLED": "true", "REQUEST_LOG": "true", "LOG_FORMAT": "json"}
_raw_body: list[bytes] = []


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app answering every request with the bytes of the file named by $WEB_LOAD_RAW_BODY as
    JSON: what serving the board's body costs with no framework at all."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if not _raw_body:
        _raw_body.append(Path(os.environ[RAW_BODY_ENV]).read_bytes())
    body = _raw_body[0]
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def measure(port: int, path: str, connections: int, seconds: int, *, warm_up: bool = True) -> Measurement:
    if shutil.which("wrk"):
        return measure_wrk(port, path, connections, seconds, warm_up=warm_up)
    return measure_python(port, path, connections, seconds)


def warm_up(port: int, path: str, connections: int) -> None:
    if shutil.which("wrk"):
        _wrk_warm_up(f"http://127.0.0.1:{port}{path}", connections)
    else:
        measure_python(port, path, connections, 2)


def group_cpu_seconds(group: int) -> float:
    """User and system CPU time of every live process in a process group (a server and its workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime are fields 14 and 15 of the whole line
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Overhead:
    body_bytes: int
    raw: Measurement
    bare: list[Measurement]
    instrumented: list[Measurement]
    bare_cpu_us: list[float]  # the server's CPU time per request in each round (both workers)
    instrumented_cpu_us: list[float]
    log_lines: int  # request lines of the board's JSON in the instrumented server's log
    counted: int  # the same requests in its /metrics histogram

    @property
    def ratios(self) -> list[float]:
        return [
            on.requests_per_s / off.requests_per_s
            for on, off in zip(self.instrumented, self.bare, strict=True)
        ]

    @property
    def loss_percent(self) -> float:
        bare = statistics.median(m.requests_per_s for m in self.bare)
        return 100 * (1 - statistics.median(m.requests_per_s for m in self.instrumented) / bare)

    @property
    def cpu_percent(self) -> float:
        """More server CPU per request, in percent of the bare server's (medians)."""
        bare = statistics.median(self.bare_cpu_us)
        return 100 * (statistics.median(self.instrumented_cpu_us) / bare - 1)


def _get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    return body


def counted_requests(metrics_text: str, route: str) -> int:
    """Requests of ``route`` in the latency histogram of a /metrics answer."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "rewardboard_http_request_duration_seconds":
            total += sum(
                sample.value
                for sample in family.samples
                if sample.name.endswith("_count") and sample.labels.get("route") == route
            )
    return int(total)


def measure_at_once(
    groups: dict[str, int], ports: dict[str, int], connections: int, seconds: int
) -> dict[str, tuple[Measurement, float]]:
    """The board's JSON from each server at the same time, with the CPU seconds each server's processes
    used meanwhile (process group ``groups[name]``)."""
    before = {name: group_cpu_seconds(group) for name, group in groups.items()}
    with ThreadPoolExecutor(len(ports)) as pool:
        futures = {
            name: pool.submit(measure, port, LEADERBOARD_JSON, connections, seconds, warm_up=False)
            for name, port in ports.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    return {name: (results[name], group_cpu_seconds(groups[name]) - before[name]) for name in groups}


def measure_overhead(url: str, args: argparse.Namespace) -> Overhead:
    """The board's JSON from a server without metrics and request log and from one with both, in turns."""
    work = Path(tempfile.mkdtemp(prefix="web-load-overhead-"))
    multiprocess = work / "prometheus"
    multiprocess.mkdir()
    instrumented_log = work / "instrumented.log"
    ports = {"bare": args.port, "instrumented": args.port + 1, "raw": args.port + 2}
    servers = {
        "bare": start_server(url, args.workers, ports["bare"], extra_env=BARE_ENV, stderr=work / "bare.log"),
        "instrumented": start_server(
            url,
            args.workers,
            ports["instrumented"],
            extra_env={**INSTRUMENTED_ENV, "PROMETHEUS_MULTIPROC_DIR": str(multiprocess)},
            stderr=instrumented_log,
        ),
    }
    try:
        body = _get(ports["bare"], LEADERBOARD_JSON)
        (work / "body.json").write_bytes(body)
        servers["raw"] = start_server(
            url,
            args.workers,
            ports["raw"],
            extra_env={RAW_BODY_ENV: str(work / "body.json")},
            app="bench.web_load:raw_app",
        )
        raw = measure(ports["raw"], LEADERBOARD_JSON, args.connections, args.duration)
        stop_server(servers.pop("raw"))
        bare: list[Measurement] = []
        instrumented: list[Measurement] = []
        cpu_us: dict[str, list[float]] = {"bare": [], "instrumented": []}
        for round_number in range(args.overhead_rounds):
            order = ("bare", "instrumented") if round_number % 2 == 0 else ("instrumented", "bare")
            # Together: both servers under load in the same seconds, each at its share of the machine.
            groups = [order] if args.overhead_together else [(name,) for name in order]
            for group in groups:
                for name in group:
                    warm_up(ports[name], LEADERBOARD_JSON, args.connections)
                measured = measure_at_once(
                    {name: servers[name].pid for name in group},
                    {name: ports[name] for name in group},
                    args.connections,
                    args.duration,
                )
                for name, (result, cpu_seconds) in measured.items():
                    cpu_us[name].append(cpu_seconds / result.requests * 1e6)
                    (bare if name == "bare" else instrumented).append(result)
                    print(
                        f"  round {round_number + 1} {name:<13} {result.requests_per_s:>9.0f} req/s",
                        flush=True,
                    )
        counted = counted_requests(_get(ports["instrumented"], "/metrics").decode(), LEADERBOARD_JSON)
    finally:
        for server in servers.values():
            stop_server(server)
    marker = f'"route": "{LEADERBOARD_JSON}"'
    with instrumented_log.open(encoding="utf-8", errors="replace") as lines:
        log_lines = sum(1 for line in lines if marker in line and '"logger": "rewardboard.request"' in line)
    shutil.rmtree(work, ignore_errors=True)
    return Overhead(
        len(body), raw, bare, instrumented, cpu_us["bare"], cpu_us["instrumented"], log_lines, counted
    )


def print_overhead(overhead: Overhead) -> None:
    header = ("round", "bare req/s", "instr. req/s", "instr./bare", "bare p99", "instr. p99", "CPU us/req")
    print("{:<7}{:>12}{:>14}{:>13}{:>10}{:>12}{:>15}".format(*header))
    rows = zip(
        overhead.bare,
        overhead.instrumented,
        overhead.ratios,
        overhead.bare_cpu_us,
        overhead.instrumented_cpu_us,
        strict=True,
    )
    for number, (off, on, ratio, off_cpu, on_cpu) in enumerate(rows, start=1):
        print(
            f"{number:<7}{off.requests_per_s:>12.0f}{on.requests_per_s:>14.0f}{ratio:>13.3f}"
            f"{off.p99_ms:>10.2f}{on.p99_ms:>12.2f}{off_cpu:>8.0f}/{on_cpu:<6.0f}"
        )
    bare = statistics.median(m.requests_per_s for m in overhead.bare)
    instrumented = statistics.median(m.requests_per_s for m in overhead.instrumented)
    errors = sum(m.errors for m in (*overhead.bare, *overhead.instrumented))
    print(
        f"{LEADERBOARD_JSON} ({overhead.body_bytes / 1000:.1f} kB, {overhead.bare[0].tool}, "
        f"{overhead.bare[0].connections} connections): bare {bare:.0f} req/s, with metrics and request log "
        f"{instrumented:.0f} req/s: loss {overhead.loss_percent:.1f}% (median of the round ratios "
        f"{statistics.median(overhead.ratios):.3f}); raw ASGI, same body: "
        f"{overhead.raw.requests_per_s:.0f} req/s"
    )
    bare_cpu, instrumented_cpu = (
        statistics.median(overhead.bare_cpu_us),
        statistics.median(overhead.instrumented_cpu_us),
    )
    print(
        f"server CPU time per request (both workers, medians): bare {bare_cpu:.0f} us, "
        f"instrumented {instrumented_cpu:.0f} us: {overhead.cpu_percent:+.1f}%"
    )
    print(
        f"instrumented server: {overhead.log_lines} request lines logged, {overhead.counted} requests in "
        f"/metrics (warm-ups included); errors in all rounds: {errors}"
    )


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
    parser.add_argument(
        "--overhead", action="store_true", help="only: the board's JSON with and without metrics and log"
    )
    parser.add_argument("--overhead-rounds", type=int, default=6)
    parser.add_argument(
        "--pin-servers",
        type=int,
        metavar="CPU",
        help="run the servers on this CPU only and wrk on the others (with --overhead-together: both servers "
        "share one core in the same seconds)",
    )
    parser.add_argument(
        "--overhead-together",
        action="store_true",
        help="load both servers in the same seconds each round (paired against the machine's drift)",
    )
    args = parser.parse_args()

    if args.pin_servers is not None:
        PINNED["servers"] = {args.pin_servers}
        PINNED["client"] = os.sched_getaffinity(0) - {args.pin_servers} or None
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
    if args.overhead:
        overhead = measure_overhead(url, args)
        print_overhead(overhead)
        if args.json_out:
            report["overhead"] = {
                **asdict(overhead),
                "ratios": overhead.ratios,
                "loss_percent": overhead.loss_percent,
            }
            args.json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        return 0
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
