"""What a benchmark is: its data, its parts, how one example is decided and how results add up.

A benchmark is one ``Benchmark`` subclass registered in ``worker.engine.benchmarks``. Everything that differs
between benchmarks lives in its definition: the Hub dataset(s) and pinned revision, the subsets with their
section and weight, the sections and which count in the Score, the rule that decides one example from its
candidates' scores, how a subset's value is computed, and the scoring versions with their history.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from worker.engine.types import Example, ScoredExample

# How an adapter's ties are credited where the benchmark leaves it open (RewardBench v1): "strict" counts a
# tie as wrong (classifiers, DPO: upstream's ``>``), "shared" gives 1/k to a k-way tie at the top (judges,
# whose non-answers upstream scores 0.5).
TiePolicy = Literal["strict", "shared"]
# Which end of a text a tokenizer cuts at max_length: "left" keeps the end (RewardBench v1's run_rm.py);
# "tokenizer" keeps the tokenizer's own setting (RewardBench 2's run_v2.py never sets it).
TruncationSide = Literal["left", "tokenizer"]


class ScoringVersionError(ValueError):
    pass


class UnknownScoringVersionError(ScoringVersionError):
    pass


class IncompatibleScoringVersionError(ScoringVersionError):
    """Subset values computed under one rule cannot be re-aggregated under a version that computes them
    differently (RewardBench 2's Ties): that needs the per-example scores."""


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    section: str
    rows: int
    weight: float  # inside its section, under the current scoring version
    description: str
    part: str = "core"  # the data part it comes from (see ``DataPart``)
    # The values the subset can take: [0, 1] for a share of credit, wider for a formula (RewardBench 2 Ties).
    value_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    slug: str
    description: str


@dataclass(frozen=True, slots=True)
class DataPart:
    """One Hub dataset a benchmark draws from. ``splits`` name the subsets when each split is one subset."""

    name: str
    dataset_id: str
    revision: str | None
    split: str | None = None
    splits: tuple[str, ...] = ()
    optional: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class ScoreFormula:
    """The Score from section values: a weighted mean over the sections with a weight.

    A section in ``optional_sections`` that is missing is left out (upstream's masked average); any other
    weighted section that is missing leaves the Score undefined (None).
    """

    key: str
    description: str
    section_weights: Mapping[str, float]
    optional_sections: frozenset[str] = frozenset()

    def apply(self, sections: Mapping[str, float]) -> float | None:
        total = weight_sum = 0.0
        for section, weight in self.section_weights.items():
            if weight == 0:
                continue
            if section not in sections:
                if section in self.optional_sections:
                    continue
                return None
            total += weight * sections[section]
            weight_sum += weight
        return total / weight_sum if weight_sum else None


@dataclass(frozen=True, slots=True)
class ScoringVersion:
    """One formula from subset values to sections and Score, as it was used over some period."""

    name: str
    description: str
    score_formula: ScoreFormula
    subset_weights: Mapping[str, float] = field(default_factory=dict)  # overrides of Subset.weight
    options: Mapping[str, Any] = field(default_factory=dict)
    # How subset values come from the examples; versions that differ here cannot reuse each other's values.
    subset_rule: str = "mean-credit"


@dataclass(frozen=True, slots=True)
class SubsetScore:
    """A subset's value with what it was computed from: ``n`` examples, ``correct`` their summed credit."""

    subset: str
    n: int | None
    correct: float | None
    value: float


@dataclass(frozen=True, slots=True)
class Aggregate:
    scoring_version: str
    sections: dict[str, float]
    score: float | None


@dataclass(frozen=True, slots=True)
class LoadedDataset:
    """Validated examples and where they came from. ``complete``: every required subset has all its rows."""

    examples: tuple[Example, ...]
    source: str
    revision: str | None
    fingerprint: str
    complete: bool
    parts: tuple[str, ...] = ("core",)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.source,
            "revision": self.revision,
            "fingerprint": self.fingerprint,
            "rows": len(self.examples),
            "complete": self.complete,
            "parts": list(self.parts),
        }


class Benchmark(ABC):
    """One benchmark at one version. Subclasses set the class attributes and implement the three rules."""

    id: str
    label: str
    description: str
    url: str
    parts: tuple[DataPart, ...]
    subsets: tuple[Subset, ...]
    sections: tuple[Section, ...]
    scoring_versions: Mapping[str, ScoringVersion]
    current_scoring_version: str
    truncation_side: TruncationSide
    # Tokens a classifier or DPO text keeps unless a run asks for more or fewer (upstream's scripts: 2,048).
    default_max_length: int = 2048
    # Names of the candidates for display when every example has the same two (v1: chosen, rejected).
    candidate_labels: tuple[str, ...] = ()

    # Data ----------------------------------------------------------------------------------------------

    @abstractmethod
    def parse_rows(self, rows: Iterable[Mapping[str, Any]], *, source: str, part: DataPart) -> list[Example]:
        """Check the rows of one data part (columns, types, subset names, unique keys) and build examples."""

    def canonical(self, example: Example) -> dict[str, Any]:
        """The JSON form of an example that its fingerprint hashes."""
        return {
            "subset": example.subset,
            "id": example.id,
            "conversation": [list(message) for message in example.conversation],
            "candidates": list(example.candidates),
            "num_correct": example.num_correct,
        }

    def selection_group(self, example: Example | ScoredExample) -> str:
        """What a seeded per-subset sample (or a bootstrap resample) draws as one unit: examples scored
        together stay together."""
        return str(example.id)

    def graded_subset(self, subset: str) -> bool:
        """True where every candidate needs a score of its own, not a pick (RewardBench 2's Ties): a judge
        rates each answer there."""
        return False

    def resampled(self, subset: str, draws: Sequence[Sequence[ScoredExample]]) -> list[ScoredExample]:
        """One subset's examples in a bootstrap resample, from its drawn groups (``selection_group``) in
        draw order. A group drawn twice counts twice; only a whole-subset metric that keys its examples by
        id needs the copies told apart (RewardBench 2 Ties)."""
        return [example for group in draws for example in group]

    def check_selection(self, examples: Sequence[Example]) -> None:  # noqa: B027 - most need no check
        """Raise ``DatasetError`` when these examples cannot be scored together (checked before the model)."""

    # Deciding and adding up ----------------------------------------------------------------------------

    @abstractmethod
    def decide(
        self, subset: str, scores: Sequence[float], num_correct: int, tie_policy: TiePolicy
    ) -> float | None:
        """One example's credit in [0, 1] from its candidates' scores; None when only the subset is scored."""

    def subset_scores(
        self, scored: Iterable[ScoredExample], scoring_version: str | None = None
    ) -> dict[str, SubsetScore]:
        """Per subset: the mean credit of its examples (whole-subset metrics override this)."""
        self.scoring_version(scoring_version)
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for example in scored:
            if example.outcome is None:
                raise ValueError(f"{self.id}: example {example.key} has no outcome")
            entry = totals[example.subset]
            entry[0] += 1
            entry[1] += example.outcome
        return {
            name: SubsetScore(name, int(n), correct, correct / n) for name, (n, correct) in totals.items()
        }

    def aggregate(self, values: Mapping[str, float], scoring_version: str | None = None) -> Aggregate:
        """Sections (weighted means of their present subsets) and the Score; unknown keys are ignored."""
        version = self.scoring_version(scoring_version)
        weights = {
            subset.name: version.subset_weights.get(subset.name, subset.weight) for subset in self.subsets
        }
        sections: dict[str, float] = {}
        for section in self.sections:
            present = [s.name for s in self.subsets if s.section == section.name and s.name in values]
            total_weight = sum(weights[name] for name in present)
            if present and total_weight > 0:
                sections[section.name] = sum(values[name] * weights[name] for name in present) / total_weight
        return Aggregate(version.name, sections, version.score_formula.apply(sections))

    # Lookups -------------------------------------------------------------------------------------------

    def scoring_version(self, name: str | None = None) -> ScoringVersion:
        try:
            return self.scoring_versions[name or self.current_scoring_version]
        except KeyError:
            known = ", ".join(self.scoring_versions)
            raise UnknownScoringVersionError(
                f"{self.id}: unknown scoring version {name!r}; known: {known}"
            ) from None

    @property
    def subset_names(self) -> tuple[str, ...]:
        return tuple(subset.name for subset in self.subsets)

    def subset(self, name: str) -> Subset | None:
        return self._subsets_by_name.get(name)

    def section(self, name: str) -> Section | None:
        return next((section for section in self.sections if section.name == name), None)

    def section_by_slug(self, slug: str) -> Section | None:
        return next((section for section in self.sections if section.slug == slug), None)

    def subsets_of(self, section: str) -> tuple[Subset, ...]:
        return tuple(subset for subset in self.subsets if subset.section == section)

    def part(self, name: str) -> DataPart | None:
        return next((part for part in self.parts if part.name == name), None)

    def score_sections(self) -> tuple[Section, ...]:
        """The sections the current Score is made of, in display order."""
        weights = self.scoring_version().score_formula.section_weights
        return tuple(section for section in self.sections if weights.get(section.name, 0) > 0)

    def required_subsets(self, parts: Collection[str]) -> tuple[Subset, ...]:
        return tuple(subset for subset in self.subsets if subset.part in parts)

    @cached_property
    def _subsets_by_name(self) -> dict[str, Subset]:
        return {subset.name: subset for subset in self.subsets}


def is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
