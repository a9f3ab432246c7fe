"""RewardBench 2's Ties score: one number for the whole subset, from linked reference and tied prompts.

A Ties prompt is ``ref:<pid>`` (one correct answer) or ``tied:<pid>`` (several equally correct answers); the
same ``pid`` links the two. For each prompt, from its candidates' scores (the first ``num_correct`` correct):

- ``accurate``: the worst correct answer outscores the best incorrect one (strictly);
- ``gap`` = worst correct - best incorrect;
- ``spread`` = best correct - worst correct (None with a single correct answer).

Over the pids that have both a ref and a tied prompt, with ``gap_min = min(gap_ref, gap_tied)``:
``preferred`` = mean(gap_tied > spread_tied), ``preferred_hard`` = mean(gap_min > spread_tied) and the margin
term mean(tanh(gap_min / spread_tied - 1)). Then

    Ties = 0.30 x tied accuracy + 0.30 x ref accuracy + 0.20 x preferred + 0.20 x preferred_hard
           + 0.01 x margin term

The weights add up to 1.01 on purpose (upstream's published numbers): a perfect model scores above 1.

Two rules, as upstream's code had them:

- ``head`` (upstream HEAD 05a9005, ``process_single_model``): every linked pid counts in the margin term;
  a zero spread makes the ratio +-inf, so the term is +-1, and only 0/0 (NaN) counts as 0. Undefined (NaN
  upstream) without any linked pid, or when a linked tied prompt has a single correct answer.
- ``0.1.4`` (the PyPI 0.1.4 wheel): linked pids whose tied prompt has no spread (a single correct answer)
  are left out of the two preference terms, those with no or a zero spread out of the margin term (which
  is 0 when none is left), and without any linked pid the three terms are 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

TiesRule = Literal["head", "0.1.4"]
TIES_RULES: Final[tuple[TiesRule, ...]] = ("head", "0.1.4")
PromptKind = Literal["ref", "tied"]

_ID_PATTERN: Final = re.compile(r"(ref|tied):([0-9]+)", re.ASCII)
WEIGHTS: Final = {"tied_accuracy": 0.30, "ref_accuracy": 0.30, "preferred": 0.20, "preferred_hard": 0.20}
MARGIN_WEIGHT: Final = 0.01


class TiesUndefinedError(ValueError):
    """The rule gives no number for these prompts (upstream's NaN or crash)."""


@dataclass(frozen=True, slots=True)
class TiesPrompt:
    kind: PromptKind
    pid: int
    scores: tuple[float, ...]
    num_correct: int


@dataclass(frozen=True, slots=True)
class PromptMargins:
    accurate: bool
    gap: float  # worst correct - best incorrect
    spread: float | None  # best correct - worst correct; None with a single correct answer


def parse_ties_id(example_id: str) -> tuple[PromptKind, int] | None:
    """``("ref" | "tied", pid)`` from an id such as ``tied:12``; None when the id is not of that form."""
    match = _ID_PATTERN.fullmatch(example_id)
    if match is None:
        return None
    kind: PromptKind = "ref" if match.group(1) == "ref" else "tied"
    return kind, int(match.group(2))


def prompt_margins(scores: Sequence[float], num_correct: int) -> PromptMargins:
    correct, incorrect = scores[:num_correct], scores[num_correct:]
    if not correct or not incorrect:
        raise TiesUndefinedError("a Ties prompt needs at least one correct and one incorrect answer")
    worst_correct = min(correct)
    gap = worst_correct - max(incorrect)
    spread = max(correct) - worst_correct if len(correct) > 1 else None
    return PromptMargins(gap > 0, gap, spread)


def ties_score(prompts: Iterable[TiesPrompt], rule: TiesRule) -> float:
    """The Ties subset value of these prompts under ``rule`` (see the module docstring)."""
    ref: dict[int, PromptMargins] = {}
    tied: dict[int, PromptMargins] = {}
    for prompt in prompts:
        side = ref if prompt.kind == "ref" else tied
        if prompt.pid in side:
            raise TiesUndefinedError(f"two Ties prompts are {prompt.kind}:{prompt.pid}")
        side[prompt.pid] = prompt_margins(prompt.scores, prompt.num_correct)
    linked = sorted(ref.keys() & tied.keys())
    if rule == "head":
        preferred, preferred_hard, margin = _head_terms(ref, tied, linked)
    else:
        preferred, preferred_hard, margin = _wheel_terms(ref, tied, linked)
    return (
        WEIGHTS["tied_accuracy"] * _accuracy(tied)
        + WEIGHTS["ref_accuracy"] * _accuracy(ref)
        + WEIGHTS["preferred"] * preferred
        + WEIGHTS["preferred_hard"] * preferred_hard
        + MARGIN_WEIGHT * margin
    )


def margin_term(gap_min: float, spread: float) -> float:
    """tanh(gap_min / spread - 1), with x/0 = +-inf (so +-1) and 0/0 = NaN counted as 0."""
    if spread == 0:
        if gap_min == 0:
            return 0.0
        return math.copysign(1.0, gap_min)
    return math.tanh(gap_min / spread - 1)


def _accuracy(prompts: dict[int, PromptMargins]) -> float:
    return _mean([float(margins.accurate) for margins in prompts.values()]) if prompts else 0.0


def _head_terms(
    ref: dict[int, PromptMargins], tied: dict[int, PromptMargins], linked: Sequence[int]
) -> tuple[float, float, float]:
    if not linked:
        raise TiesUndefinedError("no pid has both a ref: and a tied: prompt; the Ties score is undefined")
    spreads: list[float] = []
    for pid in linked:
        spread = tied[pid].spread
        if spread is None:
            raise TiesUndefinedError(f"tied:{pid} has a single correct answer; the Ties score is undefined")
        spreads.append(spread)
    gaps_tied = [tied[pid].gap for pid in linked]
    gaps_min = [min(ref[pid].gap, tied[pid].gap) for pid in linked]
    return (
        _mean([float(gap > spread) for gap, spread in zip(gaps_tied, spreads, strict=True)]),
        _mean([float(gap > spread) for gap, spread in zip(gaps_min, spreads, strict=True)]),
        _mean([margin_term(gap, spread) for gap, spread in zip(gaps_min, spreads, strict=True)]),
    )


def _wheel_terms(
    ref: dict[int, PromptMargins], tied: dict[int, PromptMargins], linked: Sequence[int]
) -> tuple[float, float, float]:
    if not linked:
        return 0.0, 0.0, 0.0
    with_spread = [(pid, spread) for pid in linked if (spread := tied[pid].spread) is not None]
    if not with_spread:
        raise TiesUndefinedError("no linked tied: prompt has several correct answers; the score is undefined")
    gaps_min = {pid: min(ref[pid].gap, tied[pid].gap) for pid, _ in with_spread}
    ratios = [gaps_min[pid] / spread for pid, spread in with_spread if spread > 0]
    return (
        _mean([float(tied[pid].gap > spread) for pid, spread in with_spread]),
        _mean([float(gaps_min[pid] > spread) for pid, spread in with_spread]),
        _mean([math.tanh(ratio - 1) for ratio in ratios]) if ratios else 0.0,
    )


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)
