"""Figures that say how far a judge's result can be trusted, computed from its examples' details.

- ``parse_failure_rate``: judge answers with no readable verdict, over all answers that were generated;
- ``not_judged``: calls never run (a prompt longer than the model's context) or examples the prompt cannot
  hold (conversations over two turns), which count as ties;
- ``position_bias_rate`` (both orders): of the examples where both orders gave a verdict, the share where
  the verdict named the same slot both times, i.e. followed the position and not the answer;
- ``first_slot_rate`` (picks): the share of verdicts naming slot A;
- ``tie_rate``: the share of examples whose top score is shared (every non-answer, equal ratings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from worker.engine.types import ScoredExample


def judge_diagnostics(scored: Sequence[ScoredExample]) -> dict[str, Any]:
    answers = parsed = unparseable = not_run = truncated = 0
    not_judged_examples = 0
    slots: Counter[str] = Counter()
    both_parsed = same_slot = 0
    ties = 0
    for example in scored:
        detail: Mapping[str, Any] = example.detail or {}
        entries = list(detail.get("orders") or detail.get("ratings") or [])
        for entry in entries:
            status = entry.get("status")
            if status in ("too_many_turns",):
                not_judged_examples += 1
                continue
            if status == "prompt_too_long":
                not_run += 1
                continue
            answers += 1
            parsed += status == "parsed"
            unparseable += status == "unparseable"
            truncated += entry.get("finish") == "length"
            if entry.get("verdict"):
                slots[str(entry["verdict"])] += 1
        verdicts = [entry.get("verdict") for entry in detail.get("orders") or []]
        if len(verdicts) == 2 and all(verdicts):
            both_parsed += 1
            same_slot += verdicts[0] == verdicts[1]
        values = [score for score in example.scores if score is not None]
        if len(values) > 1 and values.count(max(values)) > 1:
            ties += 1
    total = len(scored)
    verdicts_read = sum(slots.values())
    return {
        "examples": total,
        "judge_answers": answers,
        "parse_failures": unparseable,
        "parse_failure_rate": _rate(unparseable, answers),
        "answers_cut_at_max_new_tokens": truncated,
        "prompts_too_long": not_run,
        "examples_not_judged": not_judged_examples,
        "position_bias_rate": _rate(same_slot, both_parsed) if both_parsed else None,
        "examples_with_both_orders_read": both_parsed,
        "verdict_slots": dict(sorted(slots.items())),
        "first_slot_rate": _rate(slots.get("A", 0), verdicts_read) if verdicts_read else None,
        "tie_rate": _rate(ties, total),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
