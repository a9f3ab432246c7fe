"""LLM judges: reading verdicts, the tie rules on worked examples, seeded orders, both orders and position
bias, and whole runs with tiny judges whose answer is fixed by construction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.support.tiny_models import build_tiny_judge
from worker.engine.benchmarks import get_benchmark
from worker.engine.judging.diagnostics import judge_diagnostics
from worker.engine.judging.generation import TransformersGenerator
from worker.engine.judging.prompts import (
    PAIR_MULTI_SYSTEM,
    PAIR_SYSTEM,
    RUBRIC_TEMPLATE,
    read_rating,
    read_rubric_score,
    read_slot,
)
from worker.engine.judging.protocols import (
    Generated,
    JudgeCall,
    PickOptions,
    pick_plan,
    ratings_plan,
    rubric_plan,
)
from worker.engine.runner import decide_examples, run_evaluation
from worker.engine.spec import EvaluationSpec
from worker.engine.types import Example

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"
SAMPLE_V2 = Path(__file__).resolve().parents[1] / "data" / "rewardbench2_sample.jsonl"
V1 = get_benchmark("rewardbench-v1")
V2 = get_benchmark("rewardbench-v2")


def pair(example_id: int = 1, conversation: tuple[tuple[str, str], ...] = (("user", "Q?"),)) -> Example:
    return Example("alpacaeval-easy", example_id, conversation, ("good answer", "bad answer"))  # type: ignore[arg-type]


def four(example_id: str = "7") -> Example:
    return Example("Factuality", example_id, (("user", "Q?"),), ("right", "w1", "w2", "w3"))


def said(*texts: str | None) -> list[Generated]:
    return [Generated(text, "eos" if text is not None else "not_run") for text in texts]


def outcome(
    benchmark: Any, example: Example, scores: Sequence[float | None], policy: str = "shared"
) -> float | None:
    values = [float(score) for score in scores if score is not None]
    result: float | None = benchmark.decide(example.subset, values, example.num_correct, policy)
    return result


# Reading -------------------------------------------------------------------------------------------------


def test_verdicts_are_read_as_upstream_reads_them() -> None:
    assert read_slot("Assistant B is worse. [[A]]", 2) == 0
    assert read_slot("[[B]] ... on reflection [[A]]", 2) == 0  # [[A]] is looked for first
    assert read_slot("[[C]]", 2) is None and read_slot("[[C]]", 4) == 2
    assert read_slot("A is better", 2) is None
    assert read_rating("Clear and correct.\n\n9") == 9
    assert read_rating("I rate it 10") == 10
    assert read_rating("7/10") == 10  # the trailing integer, as upstream's regex reads it
    assert read_rating("9 out of ten") is None
    assert read_rubric_score("Relevant and useful.\nScore: 4") == 4
    assert read_rubric_score("Score: 5/5") == 5
    assert read_rubric_score("Score: 2 at first; on reflection Score: 3") == 3  # the last one
    assert read_rubric_score("Score: 10") is None and read_rubric_score("score: 3") is None


def test_the_rubric_prompt_is_the_papers() -> None:
    assert RUBRIC_TEMPLATE.startswith(
        "Review the user’s question and the corresponding response using the additive"
    )
    assert "Conclude with the score using the format: “Score: <total points>”" in RUBRIC_TEMPLATE
    assert RUBRIC_TEMPLATE.count("point") >= 5 and RUBRIC_TEMPLATE.endswith("based on the outlined criteria.")
    call = rubric_plan(pair()).calls[0]
    assert call.system is None and "User: Q?\n<response>good answer</response>" in call.user


# Tie rules on worked examples ------------------------------------------------------------------------------


def test_pairwise_verdicts_and_non_answers_on_rewardbench_v1() -> None:
    plan = pick_plan(pair(), PickOptions(seed=0, both_orders=False))
    (arrangement,) = plan.arrangements
    chosen_letter = "[[A]]" if arrangement[0] == 0 else "[[B]]"
    other_letter = "[[B]]" if chosen_letter == "[[A]]" else "[[A]]"
    won = plan.decide(said(f"Explanation. {chosen_letter}"))
    assert won.scores == (1.0, 0.0) and outcome(V1, pair(), won.scores) == 1.0
    lost = plan.decide(said(other_letter))
    assert outcome(V1, pair(), lost.scores) == 0.0
    for answer in ("I cannot judge this.", None):  # refused / unreadable, or never run (prompt too long)
        judged = plan.decide(said(answer))
        assert judged.scores == (0.0, 0.0) and outcome(V1, pair(), judged.scores) == 0.5
    assert plan.decide(said(None)).detail["orders"][0]["status"] == "prompt_too_long"
    assert plan.decide(said("hmm")).detail["orders"][0]["status"] == "unparseable"


def test_four_way_verdicts_on_rewardbench_2() -> None:
    example = four()
    plan = pick_plan(example, PickOptions(seed=3, both_orders=False))
    (arrangement,) = plan.arrangements
    slot = arrangement.index(0)
    assert sorted(arrangement) == [0, 1, 2, 3]
    correct = plan.decide(said(f"[[{'ABCD'[slot]}]]"))
    assert outcome(V2, example, correct.scores) == 1.0
    wrong = plan.decide(said(f"[[{'ABCD'[(slot + 1) % 4]}]]"))
    assert outcome(V2, example, wrong.scores) == 0.0
    error = plan.decide(said("no verdict"))
    assert outcome(V2, example, error.scores) == 0.25  # upstream's 0.25 for an error
    assert plan.prompt == "rewardbench2-four-way"


def test_both_orders_win_only_when_the_verdicts_agree() -> None:
    plan = pick_plan(pair(), PickOptions(seed=0, both_orders=True))
    first, second = plan.arrangements
    assert second == tuple(reversed(first))
    letter_of = {0: "[[A]]", 1: "[[B]]"}
    agree = plan.decide(said(letter_of[first.index(0)], letter_of[second.index(0)]))
    assert agree.scores == (1.0, 0.0) and agree.detail["winner"] == 0
    slot_follower = plan.decide(said("[[A]]", "[[A]]"))  # the same slot twice: two different answers
    assert slot_follower.scores == (0.0, 0.0) and outcome(V1, pair(), slot_follower.scores) == 0.5
    half_read = plan.decide(said(letter_of[first.index(0)], "nothing"))
    assert outcome(V1, pair(), half_read.scores) == 0.5


def test_rubric_and_ratings_ties() -> None:
    plan = rubric_plan(pair())
    assert plan.decide(said("Score: 4", "Score: 2")).scores == (4.0, 2.0)
    assert outcome(V1, pair(), plan.decide(said("Score: 3", "Score: 3")).scores) == 0.5
    unreadable_side = plan.decide(said("Score: 5", "no score"))
    assert unreadable_side.scores == (-1.0, -1.0) and outcome(V1, pair(), unreadable_side.scores) == 0.5
    assert unreadable_side.detail["ratings"][0]["rating"] == 5  # what was read stays in the detail
    example = four()
    rated = ratings_plan(example, ties=False)
    assert outcome(V2, example, rated.decide(said("7", "7", "3", "1")).scores) == 0.5
    assert outcome(V2, example, rated.decide(said("x", "5", "5", "x")).scores) == 0.0
    assert outcome(V2, example, rated.decide(said("x", "x", "x", "x")).scores) == 0.25
    assert "need not consider depth" in ratings_plan(example, ties=True).calls[0].user


def test_answer_order_is_seeded_per_example() -> None:
    examples = [pair(example_id) for example_id in range(40)]

    def orders(seed: int) -> list[tuple[int, ...]]:
        return [pick_plan(example, PickOptions(seed, False)).arrangements[0] for example in examples]

    assert orders(0) == orders(0)
    assert orders(0) != orders(1)
    assert 10 < sum(order == (1, 0) for order in orders(0)) < 30  # about half shown second
    # The order of an example does not depend on which other examples run with it.
    assert [pick_plan(examples[5], PickOptions(0, False)).arrangements[0]] == orders(0)[5:6]


def test_multi_turn_and_over_long_conversations() -> None:
    two_turns = pair(conversation=(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")))
    call = pick_plan(two_turns, PickOptions(0, False)).calls[0]
    assert call.system == PAIR_MULTI_SYSTEM and "### User:\nQ2" in call.user and "A1" in call.user
    single = pick_plan(pair(), PickOptions(0, False)).calls[0]
    assert single.system == PAIR_SYSTEM and single.user.startswith("[User Question]\nQ?")
    five = pair(
        conversation=(("user", "1"), ("assistant", "2"), ("user", "3"), ("assistant", "4"), ("user", "5"))
    )
    plan = pick_plan(five, PickOptions(0, False))
    assert plan.calls == []
    judged = plan.decide([])
    assert (
        outcome(V1, five, judged.scores) == 0.5 and judged.detail["orders"][0]["status"] == "too_many_turns"
    )


def test_diagnostics_count_parse_failures_position_bias_and_ties() -> None:
    examples = [pair(i) for i in range(4)]
    plans = [pick_plan(example, PickOptions(0, True)) for example in examples]
    answers = [said("[[A]]", "[[A]]"), said("[[A]]", "[[B]]"), said("junk", "[[A]]"), said(None, "[[B]]")]
    judged = [plan.decide(answer) for plan, answer in zip(plans, answers, strict=True)]
    from worker.engine.adapters.base import CandidateResult

    scored = decide_examples(V1, examples, [CandidateResult(j.scores, j.detail) for j in judged], "shared")
    figures = judge_diagnostics(scored)
    assert figures["judge_answers"] == 7 and figures["parse_failures"] == 1
    assert figures["prompts_too_long"] == 1
    assert figures["parse_failure_rate"] == pytest.approx(1 / 7, abs=1e-6)
    assert figures["examples_with_both_orders_read"] == 2
    assert figures["position_bias_rate"] == 0.5  # A/A follows the slot, A/B does not
    assert figures["tie_rate"] == 0.75


# Generation -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judge_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_judge(tmp_path_factory.mktemp("judges") / "judge-a", ["[[A]]"])


def test_generation_batches_fall_back_on_out_of_memory(
    judge_a: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(judge_a)
    tokenizer = AutoTokenizer.from_pretrained(judge_a)
    generator = TransformersGenerator(
        model, tokenizer, device=torch.device("cpu"), batch_tokens=4096, max_new_tokens=4
    )
    calls = [JudgeCall("system", f"question {i} " * (i + 1)) for i in range(6)]
    prompts = generator.encode(calls)
    original = model.generate
    sizes: list[int] = []

    def generate(**kwargs: Any) -> Any:
        sizes.append(kwargs["input_ids"].shape[0])
        if kwargs["input_ids"].shape[0] > 1:
            raise torch.OutOfMemoryError("test")
        return original(**kwargs)

    monkeypatch.setattr(model, "generate", generate)
    answers = generator.generate(prompts)
    assert [answer.text for answer in answers] == ["[[A]]"] * 6
    assert sizes[0] > 1 and sizes[-1] == 1
    generator.context = len(prompts[0]) + 4  # only the shortest prompt fits with its answer
    limited = generator.generate(prompts)
    assert limited[0].text == "[[A]]" and all(answer.finish == "not_run" for answer in limited[1:])


# Whole runs ------------------------------------------------------------------------------------------------


def judge_spec(model: Path, **settings: Any) -> EvaluationSpec:
    return EvaluationSpec(
        model=str(model),
        model_type="judge-pairwise",
        kind_settings={"max_new_tokens": 8, **settings},
        dataset=str(SAMPLE),
        limit_per_subset=2,
        device="cpu",
    )


def test_a_judge_run_repeated_with_the_same_seed_gives_the_same_verdicts(judge_a: Path) -> None:
    first = run_evaluation(judge_spec(judge_a, seed=5))
    again = run_evaluation(judge_spec(judge_a, seed=5))
    other = run_evaluation(judge_spec(judge_a, seed=6))
    assert [s.detail for s in first.scored] == [s.detail for s in again.scored]
    assert [s.outcome for s in first.scored] == [s.outcome for s in again.scored]
    assert [s.outcome for s in first.scored] != [s.outcome for s in other.scored]
    # An always-A judge wins exactly where the seeded order showed the chosen answer first.
    for example in first.scored:
        assert example.detail is not None
        shown_first = example.detail["orders"][0]["slots"][0] == 0
        assert example.outcome == (1.0 if shown_first else 0.0)
    record = first.result.reproducibility
    assert record["generation"]["decoding"].startswith("greedy") and record["judge"]["seed"] == 5
    assert record["kind_settings"]["seed"] == 5
    assert record["diagnostics"]["first_slot_rate"] == 1.0


def test_unparseable_judge_scores_every_pair_as_a_tie(tmp_path: Path) -> None:
    mute = build_tiny_judge(tmp_path / "mute", ["Both", "are", "fine."])
    output = run_evaluation(judge_spec(mute, both_orders=True))
    assert {s.outcome for s in output.scored} == {0.5}
    figures = output.result.reproducibility["diagnostics"]
    assert figures["parse_failure_rate"] == 1.0 and figures["position_bias_rate"] is None
    assert (
        output.scored[0].detail is not None
        and output.scored[0].detail["orders"][0]["output"] == "Botharefine."
    )


def test_judges_on_rewardbench_2_rank_four_and_rate_ties(judge_a: Path, tmp_path: Path) -> None:
    spec = EvaluationSpec(
        model=str(judge_a),
        model_type="judge-pairwise",
        benchmark="rewardbench-v2",
        kind_settings={"max_new_tokens": 8},
        dataset=str(SAMPLE_V2),
        device="cpu",
    )
    output = run_evaluation(spec)
    by_subset = {s.subset: s for s in output.scored}
    assert by_subset["Factuality"].detail["judge"] == "pick"  # type: ignore[index]
    assert by_subset["Ties"].detail["prompt"] == "rewardbench-ratings-ties"  # type: ignore[index]
    # "[[A]]" ends with no integer: every Ties rating is unreadable (-1), as upstream scores it.
    assert set(by_subset["Ties"].scores) == {-1.0}
    rubric = build_tiny_judge(tmp_path / "score-four", ["Score: 4"])
    rated = run_evaluation(
        EvaluationSpec(**{**spec.__dict__, "model": str(rubric), "model_type": "judge-rubric"})
    )
    assert all(set(s.scores) == {4.0} for s in rated.scored)
    assert {s.outcome for s in rated.scored if s.subset != "Ties"} == {0.25}
