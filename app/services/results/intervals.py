"""How sure a result is: 95% bootstrap intervals of the Score and each section, from per-example outcomes.

Method: a result's scored examples are resampled with replacement within each subset, the examples the
benchmark scores together (``Benchmark.selection_group``: RewardBench 2's linked Ties prompts) drawn as one
unit, ``RESAMPLES`` times from the fixed seed ``SEED``. Each resample goes through the benchmark's own
definition: ``subset_scores`` under the result's scoring version (so Ties stays a whole-subset metric), then
``aggregate`` for the sections and the Score. An interval is the 2.5th to 97.5th percentile of a value over
the resamples (resamples on which the formula has no value are left out while they are under 1%).

Intervals are computed when a result is recorded (``results.record_result``) and stored with it;
``interval_version`` names the scoring version and method they follow, so ``refresh_intervals`` recomputes
the intervals of results whose scoring version (or this method) has changed since. Pages and the API only
read the stored bounds.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.db.repositories import intervals as repo
from worker.engine.benchmarks import BENCHMARKS
from worker.engine.benchmarks.base import Benchmark, ScoringVersionError
from worker.engine.types import ScoredExample

RESAMPLES = 1000
SEED = 20240320
LEVEL = 0.95
METHOD = f"bootstrap-{RESAMPLES}-seed-{SEED}"
# Resamples on which the formula has no value (a small sample of linked Ties prompts may draw none linked)
# are left out while they are rare; past this share the result gets no interval.
MAX_UNDEFINED_SHARE = 0.01


class IntervalStatus(enum.StrEnum):
    COMPUTED = "computed"
    NO_EXAMPLES = "no_examples"  # nothing to resample: imported without per-example scores
    UNDEFINED = "undefined"  # the benchmark's formula gives no number on some resample
    TOO_FEW = "too_few"  # one example (unit) per subset: resampling cannot vary anything


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True, slots=True)
class ResultIntervals:
    status: IntervalStatus
    version: str
    score: Interval | None = None
    sections: Mapping[str, Interval] = field(default_factory=dict)
    reason: str | None = None


def interval_version(scoring_version: str, method: str = METHOD) -> str:
    """What stored intervals were computed under: a change of either means they are recomputed."""
    return f"{scoring_version}|{method}"


def bootstrap(
    definition: Benchmark,
    scored: Sequence[ScoredExample],
    scoring_version: str | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> ResultIntervals:
    """The 95% intervals of the Score and sections of these scored examples (see the module docstring)."""
    version = definition.scoring_version(scoring_version).name
    method = METHOD if (resamples, seed) == (RESAMPLES, SEED) else f"bootstrap-{resamples}-seed-{seed}"
    tag = interval_version(version, method)
    if not scored:
        return ResultIntervals(IntervalStatus.NO_EXAMPLES, tag)
    groups = _groups(definition, scored)
    if all(len(units) < 2 for _, units in groups):
        return ResultIntervals(IntervalStatus.TOO_FEW, tag)
    rng = random.Random(seed)
    scores: list[float | None] = []
    sections: dict[str, list[float]] = defaultdict(list)
    undefined: list[str] = []
    for _ in range(resamples):
        drawn: list[ScoredExample] = []
        for subset, units in groups:
            drawn += definition.resampled(subset, rng.choices(units, k=len(units)))
        try:
            values = definition.subset_scores(drawn, version)
        except ValueError as error:  # e.g. a Ties resample without a linked pair: the formula has no value
            undefined.append(str(error))
            continue
        agg = definition.aggregate({name: value.value for name, value in values.items()}, version)
        scores.append(agg.score)
        for name, value in agg.sections.items():
            sections[name].append(value)
    if len(undefined) > resamples * MAX_UNDEFINED_SHARE:
        reason = f"{len(undefined)} of {resamples} resamples have no value ({undefined[0]})"
        return ResultIntervals(IntervalStatus.UNDEFINED, tag, reason=reason)
    defined = len(scores)
    score_values = [value for value in scores if value is not None]
    return ResultIntervals(
        IntervalStatus.COMPUTED,
        tag,
        score=percentile_interval(score_values) if len(score_values) == defined else None,
        sections={
            name: percentile_interval(values) for name, values in sections.items() if len(values) == defined
        },
    )


def percentile_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """The central ``level`` share of ``values`` (inclusive percentiles, linear between order statistics)."""
    if len(values) == 1:
        return Interval(values[0], values[0])
    tail = (1 - level) / 2
    ordered = sorted(values)
    return Interval(_percentile(ordered, tail), _percentile(ordered, 1 - tail))


def _percentile(ordered: Sequence[float], share: float) -> float:
    position = share * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _groups(
    definition: Benchmark, scored: Iterable[ScoredExample]
) -> list[tuple[str, list[list[ScoredExample]]]]:
    """Per subset (benchmark order), its resampling units in a fixed order, whatever order rows come in."""
    units: dict[str, dict[str, list[ScoredExample]]] = defaultdict(dict)
    for example in scored:
        units[example.subset].setdefault(definition.selection_group(example), []).append(example)
    order = {name: index for index, name in enumerate(definition.subset_names)}
    subsets = sorted(units, key=lambda name: (order.get(name, len(order)), name))
    result = []
    for subset in subsets:
        members = units[subset]
        result.append((subset, [sorted(members[key], key=lambda e: str(e.id)) for key in sorted(members)]))
    return result


# Storing and refreshing ----------------------------------------------------------------------------------


def store_intervals(session: Session, result_id: int, intervals: ResultIntervals) -> None:
    repo.store_intervals(
        session,
        result_id,
        status=intervals.status.value,
        version=intervals.version,
        score=(intervals.score.low, intervals.score.high) if intervals.score else None,
        sections={name: (value.low, value.high) for name, value in intervals.sections.items()},
    )


def compute_intervals(
    benchmark: str, scoring_version: str, scored: Sequence[ScoredExample] | None
) -> ResultIntervals:
    """A result's intervals from its scored examples (no database: callers run it outside a transaction)."""
    definition = BENCHMARKS.get(benchmark)
    if definition is None:
        return ResultIntervals(
            IntervalStatus.UNDEFINED,
            interval_version(scoring_version),
            reason=f"unknown benchmark {benchmark}",
        )
    try:
        return bootstrap(definition, scored or (), scoring_version)
    except ScoringVersionError as error:
        return ResultIntervals(IntervalStatus.UNDEFINED, interval_version(scoring_version), reason=str(error))


def compute_and_store(
    session: Session,
    *,
    result_id: int,
    benchmark: str,
    scoring_version: str,
    scored: Sequence[ScoredExample] | None,
) -> ResultIntervals:
    """Compute a result's intervals from its scored examples and store them (flushes, never commits)."""
    intervals = compute_intervals(benchmark, scoring_version, scored)
    store_intervals(session, result_id, intervals)
    return intervals


def refresh_intervals(session: Session) -> int:
    """Compute the intervals of every result that has none yet or whose scoring version or method changed
    since they were computed; return how many were (re)computed. Flushes; the caller commits."""
    refreshed = 0
    for row in repo.interval_states(session):
        expected = interval_version(row["scoring_version"])
        if row["interval_status"] is not None and row["interval_version"] == expected:
            continue
        compute_and_store(
            session,
            result_id=row["id"],
            benchmark=row["benchmark"],
            scoring_version=row["scoring_version"],
            scored=repo.scored_examples(session, row["id"]),
        )
        refreshed += 1
    return refreshed


def bounds(low: float | None, high: float | None) -> list[float] | None:
    """Stored bounds as the API's [low, high], or None."""
    return [low, high] if low is not None and high is not None else None


# Words -----------------------------------------------------------------------------------------------------


def interval_note(status: str | None, source: str) -> str | None:
    """Why a result shows no interval, in words; None when it has one."""
    if status == IntervalStatus.COMPUTED:
        return None
    if status == IntervalStatus.NO_EXAMPLES:
        if source == "imported":
            return "No interval: imported without per-example scores, so there is nothing to resample."
        return "No interval: no per-example scores are stored for this result."
    if status == IntervalStatus.TOO_FEW:
        return "No interval: one example per subset, so resampling cannot say how sure the value is."
    if status == IntervalStatus.UNDEFINED:
        return "No interval: the benchmark's formula gives no value on some resamples of these examples."
    return "No interval yet: it is computed when the database is upgraded (rewardboard db upgrade)."


INTERVAL_METHOD_TEXT = (
    f"95% bootstrap interval: the examples of each subset resampled with replacement {RESAMPLES:,} times "
    f"(seed {SEED}; linked examples drawn together), each resample scored by the benchmark's own formula; "
    "the interval holds the middle 95% of the resampled values."
)
RANK_TEXT = (
    "Rank is 1 + the number of models whose whole 95% interval of the Score lies above this model's "
    "(an upper bound on its rank, as LMArena shows it): models whose intervals overlap share a rank. "
    "A result without an interval counts as its Score alone."
)
