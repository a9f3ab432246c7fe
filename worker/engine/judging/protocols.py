"""How a judge turns one example into prompts, and its answers into one score per candidate.

Scores are what the benchmark decides on (higher wins, equal scores tie): a pick gives the picked candidate 1
and the others 0, a non-answer gives every candidate 0 (a tie: 0.5 in RewardBench v1 with shared ties, 1/k
in RewardBench 2); ratings and rubric scores are the numbers read, -1 for an unreadable one (upstream's
ratings rule), and with two candidates an unreadable side makes the pair a tie. Everything read from the
judge goes into the example's ``detail``: the answer order, the verdicts, their parse status, the texts.

Plans:
- ``PickPlan``: the judge sees every candidate in one prompt and names the best by its slot letter: the
  MT-Bench pair prompt (two candidates, one or two turns) or RewardBench 2's four-way prompt. The order
  comes from a seeded generator per example: with two candidates the chosen answer is shown second when
  ``random() > 0.5`` (upstream's rule, unseeded there); with four the correct answer is swapped into slot
  ``randrange(4)`` (upstream's swap). With ``both_orders`` the judge also sees the reversed arrangement, and
  a candidate wins only when both verdicts name it.
- ``RatePlan``: each candidate rated on its own, 1-10 (RewardBench's ratings prompts; Ties always) or 0-5 (the
  Self-Rewarding rubric).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from worker.engine.errors import InvalidSpecError
from worker.engine.judging.prompts import (
    FOUR_WAY_SYSTEM,
    FOUR_WAY_TEMPLATE,
    PAIR_MULTI_SYSTEM,
    PAIR_MULTI_TEMPLATE,
    PAIR_SYSTEM,
    PAIR_TEMPLATE,
    RATINGS_TEMPLATE,
    RATINGS_TIES_TEMPLATE,
    RUBRIC_TEMPLATE,
    SLOT_LETTERS,
    read_rating,
    read_rubric_score,
    read_slot,
)
from worker.engine.types import CandidateScores, Example

# Longest raw judge answer kept in an example's detail; longer ones keep their start and their end.
OUTPUT_CHARS: Final = 4000
# Upstream judges one- and two-turn conversations only (at most 4 messages with the answer).
MAX_MESSAGES: Final = 4
UNREADABLE: Final = -1.0

Status = Literal["parsed", "unparseable", "prompt_too_long", "too_many_turns"]


@dataclass(frozen=True, slots=True)
class JudgeCall:
    """One prompt for the judge: an optional system message and the user message."""

    system: str | None
    user: str


@dataclass(frozen=True, slots=True)
class Generated:
    """The judge's answer to one call; ``text`` is None when the call was not run (its prompt too long).
    ``tokens``: the answer's token ids, up to (not including) the end token."""

    text: str | None
    finish: Literal["eos", "length", "not_run"]
    tokens: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Judged:
    scores: CandidateScores
    detail: dict[str, Any]


class Plan:
    """The calls one example needs and how their answers become scores."""

    calls: list[JudgeCall]

    def decide(self, answers: Sequence[Generated]) -> Judged:
        raise NotImplementedError


def example_rng(seed: int, example: Example) -> random.Random:
    """A generator for one example, from the seed and the example's key only (not its place in the run)."""
    return random.Random(f"{seed}|{example.subset}|{example.id}")


def keep_text(text: str | None) -> str | None:
    if text is None or len(text) <= OUTPUT_CHARS:
        return text
    return text[:1000] + " […] " + text[-(OUTPUT_CHARS - 1000) :]


@dataclass
class PickPlan(Plan):
    arrangements: list[tuple[int, ...]]  # per call: the candidate shown in each slot
    calls: list[JudgeCall]
    size: int
    prompt: str
    not_judged: Status | None = None

    def decide(self, answers: Sequence[Generated]) -> Judged:
        orders: list[dict[str, Any]] = []
        winners: list[int | None] = []
        for arrangement, answer in zip(self.arrangements, answers, strict=True):
            slot = read_slot(answer.text, len(arrangement)) if answer.text is not None else None
            status: Status = (
                "parsed" if slot is not None else "prompt_too_long" if answer.text is None else "unparseable"
            )
            winner = arrangement[slot] if slot is not None else None
            winners.append(winner)
            orders.append(
                {
                    "slots": list(arrangement),
                    "verdict": SLOT_LETTERS[slot] if slot is not None else None,
                    "winner": winner,
                    "status": status,
                    "finish": answer.finish,
                    "output": keep_text(answer.text),
                }
            )
        if self.not_judged is not None and not answers:
            orders.append({"slots": [], "verdict": None, "winner": None, "status": self.not_judged})
            winners.append(None)
        agreed = winners[0] if winners and all(w == winners[0] for w in winners) else None
        scores = tuple(1.0 if index == agreed else 0.0 for index in range(self.size))
        detail: dict[str, Any] = {"judge": "pick", "prompt": self.prompt, "orders": orders, "winner": agreed}
        return Judged(scores, detail)


@dataclass
class RatePlan(Plan):
    calls: list[JudgeCall]
    size: int
    prompt: str
    read: Callable[[str], int | None]
    pairs_tie_on_unreadable: bool = True

    def decide(self, answers: Sequence[Generated]) -> Judged:
        ratings: list[int | None] = []
        entries = []
        for answer in answers:
            value = self.read(answer.text) if answer.text is not None else None
            ratings.append(value)
            status: Status = (
                "parsed" if value is not None else "prompt_too_long" if answer.text is None else "unparseable"
            )
            entries.append(
                {
                    "rating": value,
                    "status": status,
                    "finish": answer.finish,
                    "output": keep_text(answer.text),
                }
            )
        scores = [float(value) if value is not None else UNREADABLE for value in ratings]
        if self.size == 2 and self.pairs_tie_on_unreadable and None in ratings:
            scores = [UNREADABLE, UNREADABLE]
        detail = {"judge": "rate", "prompt": self.prompt, "ratings": entries}
        return Judged(tuple(scores), detail)


# Building plans -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PickOptions:
    seed: int
    both_orders: bool


def pick_plan(example: Example, options: PickOptions) -> PickPlan:
    size = len(example.candidates)
    messages = len(example.conversation) + 1
    if size == 2:
        if messages > MAX_MESSAGES:
            return PickPlan([], [], size, "mt-bench-pair-v2", not_judged="too_many_turns")
        shown_second = example_rng(options.seed, example).random() > 0.5
        first: tuple[int, ...] = (1, 0) if shown_second else (0, 1)
        prompt = "mt-bench-pair-v2-multi-turn" if messages > 2 else "mt-bench-pair-v2"
    elif size == 4:
        slot = example_rng(options.seed, example).randrange(4)
        order = [0, 1, 2, 3]
        order[0], order[slot] = order[slot], order[0]
        first = tuple(order)
        prompt = "rewardbench2-four-way"
    else:
        raise InvalidSpecError(
            f"example {example.key} has {size} answers; a judge compares 2 (pair prompt) or 4 (four-way "
            "prompt), or rates each answer (score_with_ratings)"
        )
    arrangements = [first, tuple(reversed(first))] if options.both_orders else [first]
    calls = [_pick_call(example, arrangement) for arrangement in arrangements]
    return PickPlan(arrangements, calls, size, prompt)


def _pick_call(example: Example, arrangement: tuple[int, ...]) -> JudgeCall:
    answers = [example.candidates[index] for index in arrangement]
    conversation = example.conversation
    if len(answers) == 4:
        values = dict(zip(("answer_a", "answer_b", "answer_c", "answer_d"), answers, strict=True))
        return JudgeCall(FOUR_WAY_SYSTEM, FOUR_WAY_TEMPLATE.format(question=conversation[0][1], **values))
    if len(conversation) > 1:
        return JudgeCall(
            PAIR_MULTI_SYSTEM,
            PAIR_MULTI_TEMPLATE.format(
                question_1=conversation[0][1],
                answer_a_1=conversation[1][1],
                answer_b_1=conversation[1][1],
                question_2=conversation[2][1],
                answer_a_2=answers[0],
                answer_b_2=answers[1],
            ),
        )
    user = PAIR_TEMPLATE.format(question=conversation[0][1], answer_a=answers[0], answer_b=answers[1])
    return JudgeCall(PAIR_SYSTEM, user)


def ratings_plan(example: Example, *, ties: bool) -> RatePlan:
    """Each answer rated 1-10 on its own (upstream's ratings; the Ties variant for RewardBench 2 Ties)."""
    template = RATINGS_TIES_TEMPLATE if ties else RATINGS_TEMPLATE
    query = example.prompt  # the last user turn (the first, for the single-turn benchmarks)
    calls = [
        JudgeCall(None, template.format(prompt=query, completion=answer)) for answer in example.candidates
    ]
    name = "rewardbench-ratings-ties" if ties else "rewardbench-ratings"
    return RatePlan(calls, len(example.candidates), name, read_rating)


def rubric_plan(example: Example) -> RatePlan:
    """Each answer scored 0-5 with the Self-Rewarding additive rubric."""
    calls = [
        JudgeCall(None, RUBRIC_TEMPLATE.format(prompt=example.prompt, response=answer))
        for answer in example.candidates
    ]
    return RatePlan(calls, len(example.candidates), "self-rewarding-rubric", read_rubric_score)
