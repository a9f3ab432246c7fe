"""The benchmark registry: one definition per benchmark and version (see ``base.Benchmark``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from worker.engine.benchmarks.base import Benchmark
from worker.engine.benchmarks.rewardbench_v1 import RewardBenchV1
from worker.engine.benchmarks.rewardbench_v2 import RewardBenchV2
from worker.engine.errors import InvalidSpecError

DEFAULT_BENCHMARK: Final = "rewardbench-v1"

BENCHMARKS: Final[Mapping[str, Benchmark]] = MappingProxyType(
    {benchmark.id: benchmark for benchmark in (RewardBenchV1(), RewardBenchV2())}
)


class UnknownBenchmarkError(InvalidSpecError):
    kind = "unknown_benchmark"


def get_benchmark(benchmark_id: str | None = None) -> Benchmark:
    """The definition registered under ``benchmark_id`` (default: RewardBench v1)."""
    try:
        return BENCHMARKS[benchmark_id or DEFAULT_BENCHMARK]
    except KeyError:
        known = ", ".join(BENCHMARKS)
        raise UnknownBenchmarkError(f"unknown benchmark {benchmark_id!r}; known: {known}") from None


__all__ = ["BENCHMARKS", "DEFAULT_BENCHMARK", "Benchmark", "UnknownBenchmarkError", "get_benchmark"]
