"""Plain data passed between the engine's stages: examples in, candidate scores and outcomes out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
# One turn of a conversation: (role, content).
Message = tuple[Role, str]
ExampleId = int | str


@dataclass(frozen=True, slots=True)
class Example:
    """A prompt and k candidate responses; the first ``num_correct`` candidates are the correct ones.

    ``conversation`` holds the turns before the response (single-turn: one user message); the last turn is
    always the user's. Rows are keyed by (subset, id): ids repeat across subsets in RewardBench v1.
    """

    subset: str
    id: ExampleId
    conversation: tuple[Message, ...]
    candidates: tuple[str, ...]
    num_correct: int = 1
    candidate_models: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.subset, str(self.id))

    @property
    def prompt(self) -> str:
        """The last user turn: what the responses answer."""
        return self.conversation[-1][1]


# One score per candidate, in candidate order; None where an adapter gives no number (imported files).
CandidateScores = tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class ScoredExample:
    """An adapter's scores for one example and the benchmark's decision on them.

    ``outcome`` is the example's credit in [0, 1] (1 right, 0 wrong, a fraction for shared top ties or a
    judge's non-answer), or None where the benchmark scores the subset as a whole (RewardBench 2 Ties).
    ``detail`` carries what an adapter recorded besides scores (a judge's verdicts, the answer order).
    """

    subset: str
    id: ExampleId
    scores: CandidateScores
    num_correct: int
    outcome: float | None
    detail: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.subset, str(self.id))

    @property
    def correct(self) -> bool:
        return self.outcome == 1.0
