"""95% bootstrap intervals: the method, storage with a result, refresh on a new scoring version, ranks."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultSource, SectionScore
from app.schemas.leaderboard import LeaderboardQuery
from app.services.presentation.leaderboard import leaderboard_page, rank_upper_bounds
from app.services.results.intervals import (
    IntervalStatus,
    bootstrap,
    interval_note,
    interval_version,
    percentile_interval,
    refresh_intervals,
)
from tests.submissions.conftest import REPO_ROOT
from tests.web.factories import V1, make_result, sample_pairs, scores_for
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.rewardbench_v1 import SCORING_V1_2024_04, SCORING_V1_2024_09
from worker.engine.dataset import load_dataset
from worker.engine.runner import decide_examples
from worker.engine.types import ScoredExample

V2 = get_benchmark("rewardbench-v2")
V2_SAMPLE = REPO_ROOT / "tests" / "data" / "rewardbench2_sample.jsonl"


def coin_flips(subset: str, n: int, right: int) -> list[ScoredExample]:
    return [
        ScoredExample(subset, index, (1.0, 0.0) if index < right else (0.0, 1.0), 1, float(index < right))
        for index in range(n)
    ]


def full_v1(accuracy: float, seed: int = 1) -> list[ScoredExample]:
    rng = random.Random(seed)
    scored = []
    for subset in V1.required_subsets(("core",)):
        for index in range(subset.rows):
            right = rng.random() < accuracy
            scored.append(ScoredExample(subset.name, index, (1.0, 0.0), 1, float(right)))
    return scored


def test_a_subset_mean_gets_the_textbook_interval() -> None:
    """One subset of 400 examples, 70% right: the bootstrap agrees with p +- 1.96 sqrt(p(1-p)/n)."""
    definition = V1
    scored = coin_flips("alpacaeval-easy", 400, 280)
    intervals = bootstrap(definition, scored)
    assert intervals.status == IntervalStatus.COMPUTED
    chat = intervals.sections["Chat"]
    half_width = 1.96 * math.sqrt(0.7 * 0.3 / 400)
    assert chat.low == pytest.approx(0.7 - half_width, abs=0.01)
    assert chat.high == pytest.approx(0.7 + half_width, abs=0.01)
    assert intervals.score is None  # three sections are missing: no Score, so no interval of it


def test_full_v1_result_score_interval_holds_the_score_and_narrows_with_more_data() -> None:
    scored = full_v1(0.7)
    values = {name: value.value for name, value in V1.subset_scores(scored).items()}
    score = V1.aggregate(values).score
    assert score is not None
    intervals = bootstrap(V1, scored)
    assert intervals.score is not None
    assert intervals.score.low < score < intervals.score.high
    assert 0.01 < intervals.score.high - intervals.score.low < 0.06
    assert set(intervals.sections) == {"Chat", "Chat Hard", "Safety", "Reasoning"}
    for name, interval in intervals.sections.items():
        section = V1.aggregate(values).sections[name]
        assert interval.low <= section <= interval.high
    small = bootstrap(V1, [example for example in scored if int(example.id) < 10])
    assert small.score is not None
    assert small.score.high - small.score.low > intervals.score.high - intervals.score.low


def test_fixed_seed_and_row_order_do_not_change_the_interval() -> None:
    scored = scores_for(sample_pairs())
    first = bootstrap(V1, scored)
    shuffled = list(scored)
    random.Random(5).shuffle(shuffled)
    assert bootstrap(V1, shuffled) == first
    assert bootstrap(V1, scored, seed=7) != first
    assert first.version == interval_version(V1.current_scoring_version)


def test_all_right_gives_a_point_interval() -> None:
    scored = [
        ScoredExample(example.subset, example.id, (1.0, 0.0), 1, 1.0)
        for example in scores_for(sample_pairs())
    ]
    intervals = bootstrap(V1, scored)
    assert intervals.score is not None
    assert (intervals.score.low, intervals.score.high) == (1.0, 1.0)


def test_ties_pairs_are_drawn_together_and_copies_stay_distinct() -> None:
    examples = list(load_dataset(V2, str(V2_SAMPLE)).examples)
    rng = random.Random(3)
    scored = decide_examples(
        V2, examples, [tuple(rng.random() for _ in e.candidates) for e in examples], "strict"
    )
    ties = [example for example in scored if example.subset == "Ties"]
    groups: dict[str, list[ScoredExample]] = {}
    for example in ties:
        groups.setdefault(V2.selection_group(example), []).append(example)
    pair = groups["pid:1"]
    assert sorted(str(example.id) for example in pair) == ["ref:1", "tied:1"]
    # The same pair drawn three times: three linked pairs under numbers of their own, all scored.
    copies = V2.resampled("Ties", [pair, pair, pair])
    assert sorted(str(example.id) for example in copies) == [
        "ref:0",
        "ref:1",
        "ref:2",
        "tied:0",
        "tied:1",
        "tied:2",
    ]
    value = V2.subset_scores(copies)["Ties"].value
    assert value == pytest.approx(V2.subset_scores(pair)["Ties"].value)

    intervals = bootstrap(V2, scored)
    assert intervals.status == IntervalStatus.COMPUTED
    assert set(intervals.sections) == {"Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"}
    values = {name: value.value for name, value in V2.subset_scores(scored).items()}
    ties_value = values["Ties"]
    assert intervals.sections["Ties"].low <= ties_value <= intervals.sections["Ties"].high


def test_percentiles() -> None:
    values = [float(v) for v in range(101)]
    interval = percentile_interval(values)
    assert (interval.low, interval.high) == pytest.approx((2.5, 97.5))
    assert percentile_interval([0.3]) == percentile_interval([0.3, 0.3])


def test_record_result_stores_intervals_or_says_why_not(db_session: Session) -> None:
    pairs = sample_pairs()
    scored = scores_for(pairs)
    evaluated = make_result(db_session, "org/with-examples", 0.75, scored=scored)
    assert evaluated.interval_status == IntervalStatus.COMPUTED
    expected = bootstrap(V1, scored, evaluated.scoring_version)
    assert expected.score is not None
    assert (evaluated.score_low, evaluated.score_high) == pytest.approx(
        (expected.score.low, expected.score.high)
    )
    rows = db_session.execute(
        select(SectionScore.section, SectionScore.low, SectionScore.high).where(
            SectionScore.result_id == evaluated.id
        )
    ).all()
    stored = {section: (low, high) for section, low, high in rows}
    assert set(stored) == set(expected.sections)
    for name, value in expected.sections.items():
        assert stored[name] == pytest.approx((value.low, value.high))

    imported = make_result(db_session, "org/imported-only", 0.6, source=ResultSource.IMPORTED)
    assert imported.interval_status == IntervalStatus.NO_EXAMPLES
    assert imported.score_low is None and imported.score_high is None
    note = interval_note(imported.interval_status, imported.source)
    assert note is not None and "imported without per-example scores" in note
    assert interval_note(evaluated.interval_status, evaluated.source) is None


def test_a_new_scoring_version_makes_intervals_stale_and_refresh_recomputes_them(db_session: Session) -> None:
    scored = scores_for(sample_pairs())
    result = make_result(db_session, "org/rescored", 0.75, scored=scored)
    make_result(db_session, "org/no-examples", 0.5, source=ResultSource.IMPORTED)
    db_session.flush()
    assert refresh_intervals(db_session) == 0  # all current

    # The result is rescored under the version with swapped XSTest weights: its intervals follow.
    db_session.execute(
        update(EvaluationResult)
        .where(EvaluationResult.id == result.id)
        .values(scoring_version=SCORING_V1_2024_04)
    )
    assert refresh_intervals(db_session) == 1
    db_session.refresh(result)
    assert result.interval_version == interval_version(SCORING_V1_2024_04)
    expected = bootstrap(V1, scored, SCORING_V1_2024_04)
    assert expected != bootstrap(V1, scored, SCORING_V1_2024_09)
    safety = db_session.execute(
        select(SectionScore.low, SectionScore.high).where(
            SectionScore.result_id == result.id, SectionScore.section == "Safety"
        )
    ).one()
    assert tuple(safety) == pytest.approx((expected.sections["Safety"].low, expected.sections["Safety"].high))

    # A result stored before intervals existed (status NULL) is computed too.
    db_session.execute(update(EvaluationResult).values(interval_status=None, score_low=None, score_high=None))
    assert refresh_intervals(db_session) == 2
    assert refresh_intervals(db_session) == 0


def test_rank_upper_bound() -> None:
    # a [0.80, 0.90], b [0.78, 0.86] overlaps a, c [0.70, 0.76] is below both, d has no interval (0.85).
    bounds = [(1, 0.85, 0.80, 0.90), (2, 0.82, 0.78, 0.86), (3, 0.73, 0.70, 0.76), (4, 0.85, 0.85, 0.85)]
    assert rank_upper_bounds(bounds) == {1: 1, 2: 1, 3: 4, 4: 1}
    assert rank_upper_bounds([(1, 0.9, 0.9, 0.9), (2, 0.5, 0.5, 0.5)]) == {1: 1, 2: 2}


def test_leaderboard_rows_carry_intervals_and_shared_ranks(db_session: Session) -> None:
    pairs = sample_pairs()
    make_result(db_session, "org/strong", 0.8, scored=scores_for(pairs, wrong_every=10))
    make_result(db_session, "org/close", 0.78, scored=scores_for(pairs, wrong_every=8))
    make_result(db_session, "org/published", 0.1, source=ResultSource.IMPORTED)
    db_session.flush()
    page = leaderboard_page(db_session, LeaderboardQuery())
    by_model = {row.model: row for row in page.rows}
    strong, close, published = by_model["org/strong"], by_model["org/close"], by_model["org/published"]
    assert strong.score_interval is not None and close.score_interval is not None
    assert strong.rank == 1 and close.rank == 2
    assert strong.rank_ub == close.rank_ub == 1  # 92 examples: the two intervals overlap
    assert published.score_interval is None and published.rank_ub == 3
    assert published.interval_note is not None and "imported" in published.interval_note
    assert set(strong.section_intervals) == set(page.sections)
    chat = strong.section_intervals["Chat"]
    assert chat is not None and chat[0] <= (strong.sections["Chat"] or 0) <= chat[1]


def test_one_example_per_subset_gets_no_interval() -> None:
    first_of_each: dict[str, ScoredExample] = {}
    for example in scores_for(sample_pairs()):
        first_of_each.setdefault(example.subset, example)
    intervals = bootstrap(V1, list(first_of_each.values()))
    assert intervals.status == IntervalStatus.TOO_FEW and intervals.score is None
    note = interval_note(intervals.status, "evaluated")
    assert note is not None and "one example per subset" in note
