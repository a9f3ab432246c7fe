"""The contract every reward-model adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from worker.engine.types import CandidateScores, Example

# progress(done_examples, total_examples): called as work proceeds, last with done == total.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class CandidateResult:
    """One example's candidate scores and what the adapter read besides (a judge's verdicts and order)."""

    scores: CandidateScores
    detail: Mapping[str, Any] | None = None


def report_examples_done(progress: ProgressCallback | None, indices: Sequence[int]) -> None:
    """Tell a progress callback which examples (input indices) just got all their scores, if it asks
    (an ``examples_done`` method, as the runner's, which names the subset being scored)."""
    hook = getattr(progress, "examples_done", None)
    if hook is not None and indices:
        hook(indices)


class RewardAdapter(ABC):
    """Scores the candidates of examples with one loaded model.

    ``score_examples`` returns, for each input example in input order, one score per candidate in candidate
    order, whatever batching the adapter uses internally: a higher score means a better response. Adapters
    never decide an example; the benchmark does, from these scores. The same model, data and settings give
    the same scores. ``score_with_detail`` adds what an adapter read besides the scores (stored per example).
    ``describe`` returns what a reproduction needs (resolved model version, dtype, device,
    template...). ``close`` frees the model; adapters are also context managers.
    """

    @property
    @abstractmethod
    def chat_template(self) -> str:
        """The template actually used, as recorded in results files: "tokenizer" or a template name."""

    @abstractmethod
    def score_examples(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateScores]: ...

    def score_with_detail(
        self, examples: Sequence[Example], progress: ProgressCallback | None = None
    ) -> list[CandidateResult]:
        """``score_examples`` with each example's detail; adapters that record more override this."""
        return [CandidateResult(scores) for scores in self.score_examples(examples, progress)]

    @abstractmethod
    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None:  # noqa: B027 - adapters without resources need no cleanup
        """Release the model and any device memory."""

    def __enter__(self) -> RewardAdapter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
