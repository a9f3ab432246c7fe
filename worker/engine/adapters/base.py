"""The contract every reward-model adapter implements (classifier now; DPO and generative judges later)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar

from worker.engine.types import PairScore, PreferencePair

# progress(done_pairs, total_pairs): called as work proceeds, last with done_pairs == total_pairs.
ProgressCallback = Callable[[int, int], None]


class RewardAdapter(ABC):
    """Scores preference pairs with one loaded model.

    ``score_pairs`` returns one ``PairScore`` per input pair, in input order, whatever batching the adapter
    uses internally. Results are 1.0 (chosen strictly preferred), 0.0 (rejected preferred, or a tie) or,
    for judges that give no verdict, 0.5. The same model, data and settings give the same decisions.
    ``describe`` returns what a reproduction needs (resolved model version, dtype, device, template...).
    ``close`` frees the model; adapters are also context managers.
    """

    # The upstream results-file label, e.g. "Seq. Classifier", "DPO", "Generative RM".
    model_type_label: ClassVar[str]

    @property
    @abstractmethod
    def chat_template(self) -> str:
        """The template actually used, as recorded in results files: "tokenizer" or a template name."""

    @abstractmethod
    def score_pairs(
        self, pairs: Sequence[PreferencePair], progress: ProgressCallback | None = None
    ) -> list[PairScore]: ...

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
