"""Plain data passed between the engine's stages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PreferencePair:
    """One prompt-chosen-rejected trio. Rows are keyed by (subset, id): ids repeat across subsets."""

    subset: str
    id: int
    prompt: str
    chosen: str
    rejected: str
    chosen_model: str = ""
    rejected_model: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.subset, self.id)

    @property
    def responses(self) -> tuple[str, str]:
        return (self.chosen, self.rejected)


@dataclass(frozen=True, slots=True)
class PairScore:
    """An adapter's scores for one pair and the decision: 1.0 right, 0.0 wrong, 0.5 a judge's non-answer."""

    subset: str
    id: int
    score_chosen: float | None
    score_rejected: float | None
    result: float

    @property
    def correct(self) -> bool:
        return self.result == 1.0
