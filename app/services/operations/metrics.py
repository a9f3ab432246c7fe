"""What /metrics reports, in the Prometheus text format (prometheus-client).

Observed by the web process: request latency by route template, method and status class (the request log
middleware, ``app.http.request_log``, observes it in batches; ``app.http.metrics`` makes the labels), and
the Hub gate's slots, slots in use and requests waiting. Read from the database when scraped, with a short
cache (``METRICS_DB_CACHE_S``): submissions queued per worker class (queue), submissions by state and
failure kind, the durations of succeeded runs by kind and benchmark (a histogram over every finished run,
so it only grows, as a Prometheus histogram must), and each worker's heartbeat age. Run durations come from
the database rather than the worker because the worker's prefork children have no scrape endpoint, and the
database already holds every run's start and finish.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several web processes: ``uvicorn --workers N``, gunicorn), the
observed metrics go to files in that folder and any process's /metrics adds up all of them
(``MultiProcessCollector`` in a registry of its own); the Hub gate gauges are then sampled every second
and summed over the live processes. The folder must be emptied before the processes start.
"""

from __future__ import annotations

import os
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repositories import operations_health as repo
from app.services.intake.queues import all_queues

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "rewardboard"
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_DURATION_BUCKETS = (
    60,
    300,
    600,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    24 * 3600,
    48 * 3600,
)
HUB_SAMPLE_S = 1.0
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, when it is on (read from the environment,
    as prometheus-client itself reads it when imported)."""
    return os.environ.get(MULTIPROCESS_ENV) or None


LATENCY = f"{PREFIX}_http_request_duration_seconds"
LATENCY_HELP = "Time to answer a request, by route template, method and status class"
LATENCY_LABELS = ("method", "route", "status_class")
_LATENCY_PARTS = f"{PREFIX}_http_request_duration_parts"
_BOUNDS = (*REQUEST_BUCKETS, float("inf"))
_BOUND_NAMES = tuple(floatToGoString(bound) for bound in _BOUNDS)  # "0.001" ... "+Inf", as "le" is written
_SUM = "sum"


class RequestLatency:
    """The request latency histogram, added to a batch of requests at a time.

    prometheus-client's ``Histogram`` takes one observation per call. A batch's latencies are counted here
    per bucket and added to one counter per (labels, bucket) and one for the sum, which prometheus-client
    keeps per process and, in multiprocess mode, adds up over the processes; ``latency_histograms`` turns
    them back into the histogram when /metrics is read.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._parts = Counter(
            _LATENCY_PARTS,
            "Parts of the request latency histogram (folded into it when exposed)",
            (*LATENCY_LABELS, "part"),
            registry=registry,
        )
        self._children: dict[tuple[str, str, str, str], Any] = {}

    def observe_many(self, observations: Iterable[tuple[str, str, str, float]]) -> None:
        """(method, route, status class, seconds) of each answered request."""
        rows: dict[tuple[str, str, str], list[float]] = {}
        for method, route, status, seconds in observations:
            row = rows.get((method, route, status))
            if row is None:
                row = rows[(method, route, status)] = [0.0] * (len(_BOUNDS) + 1)  # the buckets, then the sum
            row[bisect_left(_BOUNDS, seconds)] += 1  # the first bucket whose bound is >= seconds
            row[-1] += seconds
        for labels, row in rows.items():
            for part, amount in zip((*_BOUND_NAMES, _SUM), row, strict=True):
                if amount:
                    self._child(*labels, part).inc(amount)

    def _child(self, method: str, route: str, status: str, part: str) -> Any:
        key = (method, route, status, part)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._parts.labels(*key)
        return child


def latency_histograms(families: Iterable[Metric]) -> Iterator[Metric]:
    """The families as collected, the latency counters turned back into the histogram (cumulative buckets,
    count, sum); every other family as it is."""
    for family in families:
        if family.name != _LATENCY_PARTS:
            yield family
            continue
        parts: dict[tuple[str, ...], dict[str, float]] = {}
        for sample in family.samples:
            if sample.name.endswith("_total"):  # not the _created samples
                labels = tuple(sample.labels[name] for name in LATENCY_LABELS)
                parts.setdefault(labels, {})[sample.labels["part"]] = sample.value
        histogram = HistogramMetricFamily(LATENCY, LATENCY_HELP, labels=LATENCY_LABELS)
        for labels, values in sorted(parts.items()):
            cumulative, running = [], 0.0
            for bound in _BOUND_NAMES:
                running += values.get(bound, 0.0)
                cumulative.append((bound, running))
            histogram.add_metric(list(labels), cumulative, sum_value=values.get(_SUM, 0.0))
        yield histogram


class _LatencyFolded(Collector):
    """Another collector's families, the latency counters folded back into the histogram."""

    def __init__(self, source: Collector) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return latency_histograms(self.source.collect())


class GateState(Protocol):
    """What the metrics read of ``app.services.intake.hub_gate.HubGate``."""

    @property
    def slots(self) -> int: ...
    @property
    def busy(self) -> int: ...
    @property
    def waiting(self) -> int: ...


_HUB_GAUGES = (
    ("hub_gate_slots", "Hub checks that may run at once", lambda gate: gate.slots),
    ("hub_gate_busy", "Hub checks holding a slot now", lambda gate: gate.busy),
    ("hub_gate_waiting", "Requests waiting for a free Hub slot", lambda gate: gate.waiting),
)


class HubGateCollector(Collector):
    """The gate read when scraped (one web process)."""

    def __init__(self, gate: GateState) -> None:
        self.gate = gate

    def collect(self) -> Iterable[Metric]:
        for name, documentation, read in _HUB_GAUGES:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=read(self.gate))


class HubGateSampler:
    """Several web processes: each writes its gate's state to its live gauges every second."""

    def __init__(
        self, gate: GateState, registry: CollectorRegistry, interval_s: float = HUB_SAMPLE_S
    ) -> None:
        self.gate = gate
        self.interval_s = interval_s
        self._gauges = [
            (Gauge(f"{PREFIX}_{name}", documentation, registry=registry, multiprocess_mode="livesum"), read)
            for name, documentation, read in _HUB_GAUGES
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-gate-metrics", daemon=True)

    def sample(self) -> None:
        for gauge, read in self._gauges:
            gauge.set(read(self.gate))

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()


def forget_dead_processes(directory: str) -> list[int]:
    """Drop the live gauges of web processes that are gone (uvicorn restarts its workers without telling
    prometheus-client); their counters and histograms stay, as they must."""
    dead: set[int] = set()
    for path in Path(directory).glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.add(pid)
        except PermissionError:
            pass  # alive, another user's
    for pid in dead:
        prometheus_multiprocess.mark_process_dead(pid, directory)
    return sorted(dead)


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """Cumulative bucket counts and the sum of one (kind, benchmark)'s run durations."""

    counts: tuple[int, ...]  # per bucket of RUN_DURATION_BUCKETS, then +Inf (not cumulative)
    total_s: float


@dataclass(frozen=True, slots=True)
class DatabaseCounts:
    queued: dict[str, int]
    runs: list[tuple[str, str, int]]
    durations: dict[tuple[str, str], DurationHistogram]
    heartbeats: list[repo.Heartbeat]


def read_database_counts(session: Session) -> DatabaseCounts:
    buckets: dict[tuple[str, str], list[int]] = {}
    totals: dict[tuple[str, str], float] = {}
    for kind, benchmark, seconds in repo.finished_run_durations(session):
        key = (kind, benchmark)
        counts = buckets.setdefault(key, [0] * (len(RUN_DURATION_BUCKETS) + 1))
        index = next((i for i, bound in enumerate(RUN_DURATION_BUCKETS) if seconds <= bound), -1)
        counts[index] += 1
        totals[key] = totals.get(key, 0.0) + seconds
    return DatabaseCounts(
        queued=repo.queue_depths(session),
        runs=repo.runs_by_state(session),
        durations={key: DurationHistogram(tuple(counts), totals[key]) for key, counts in buckets.items()},
        heartbeats=repo.heartbeats(session),
    )


class DatabaseCollector(Collector):
    """Queues, runs, run durations and worker heartbeats, read from the database at most every
    ``cache_s`` seconds; heartbeat ages are computed at each scrape. ``rewardboard_database_up`` says
    whether the last read worked (a database that is down never fails the scrape)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        queues: Sequence[str],
        cache_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.queues = tuple(queues)
        self.cache_s = cache_s
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._counts: DatabaseCounts | None = None

    def _current(self) -> DatabaseCounts | None:
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.cache_s:
                try:
                    with self.factory() as session:
                        self._counts = read_database_counts(session)
                except Exception:
                    self._counts = None
                self._read_at = now
            return self._counts

    def collect(self) -> Iterable[Metric]:
        counts = self._current()
        yield GaugeMetricFamily(
            f"{PREFIX}_database_up",
            "Whether the last read of the counts below worked",
            value=1.0 if counts is not None else 0.0,
        )
        if counts is None:
            return
        queued = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Submissions queued, per worker class (queue)", labels=["queue"]
        )
        for queue in sorted({*self.queues, *counts.queued}):
            queued.add_metric([queue], counts.queued.get(queue, 0))
        yield queued
        runs = GaugeMetricFamily(
            f"{PREFIX}_runs",
            "Submissions by state and, for failed ones, failure kind",
            labels=["state", "failure_kind"],
        )
        for state, failure_kind, count in counts.runs:
            runs.add_metric([state, failure_kind], count)
        yield runs
        durations = HistogramMetricFamily(
            f"{PREFIX}_run_duration_seconds",
            "Start to finish of succeeded runs, by kind (model type) and benchmark",
            labels=["kind", "benchmark"],
        )
        for (kind, benchmark), histogram in sorted(counts.durations.items()):
            cumulative, running = [], 0
            for bound, count in zip((*RUN_DURATION_BUCKETS, float("inf")), histogram.counts, strict=True):
                running += count
                cumulative.append((_bound_text(bound), running))
            durations.add_metric([kind, benchmark], cumulative, sum_value=histogram.total_s)
        yield durations
        ages = GaugeMetricFamily(
            f"{PREFIX}_worker_heartbeat_age_seconds",
            "Seconds since each worker's last heartbeat",
            labels=["worker"],
        )
        now = datetime.now(UTC)
        for beat in counts.heartbeats:
            ages.add_metric([beat.worker], max((now - beat.seen_at).total_seconds(), 0.0))
        yield ages


def _bound_text(bound: float) -> str:
    return floatToGoString(bound)  # as prometheus-client writes its own buckets' "le" (60.0, +Inf)


class Metrics:
    """Everything /metrics reports for one web app, and the request histogram its middleware observes."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        factory: sessionmaker[Session],
        gate: GateState,
        *,
        queues: Sequence[str],
        db_cache_s: float,
        directory: str | None = None,
    ) -> None:
        self.directory = directory
        # Registries that never collect when a collector is registered (the database is read when scraped).
        observed = CollectorRegistry(auto_describe=False)
        self.requests = RequestLatency(observed)
        database = DatabaseCollector(factory, queues=queues, cache_s=db_cache_s)
        self._exposed = CollectorRegistry(auto_describe=False)
        self._sampler: HubGateSampler | None = None
        if directory is None:
            self._exposed.register(_LatencyFolded(observed))
            self._exposed.register(HubGateCollector(gate))
            ProcessCollector(registry=self._exposed)
            PlatformCollector(registry=self._exposed)
            GCCollector(registry=self._exposed)
        else:
            self._sampler = HubGateSampler(gate, observed)
            self._sampler.start()
            every_process = prometheus_multiprocess.MultiProcessCollector(None, path=directory)
            self._exposed.register(_LatencyFolded(every_process))
        self._exposed.register(database)

    @classmethod
    def from_settings(cls, settings: Settings, factory: sessionmaker[Session], gate: GateState) -> Metrics:
        return cls(
            factory,
            gate,
            queues=all_queues(settings),
            db_cache_s=settings.metrics_db_cache_s,
            directory=multiprocess_dir(),
        )

    def render(self) -> bytes:
        """The text exposition of every metric (all processes' in multiprocess mode)."""
        if self.directory is not None:
            forget_dead_processes(self.directory)
        return generate_latest(self._exposed)

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()
