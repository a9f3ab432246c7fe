"""The published v1 and v2 boards: seeded into a fresh database, ranked by today's formula, flagged."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import EvaluationResult, RewardModel
from app.services.results.published_boards import import_board, matching_formula
from app.services.results.seed import SEED_DIR, seed_if_empty
from tests.web.conftest import BOARD_ROWS, PUBLISHED
from tests.web.factories import make_result
from worker.engine.benchmarks import get_benchmark

V1_BOARD = SEED_DIR / "published-boards" / "rewardbench-v1.jsonl"
V2_BOARD = SEED_DIR / "published-boards" / "rewardbench-v2.jsonl"


def _board_rows(path: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (SEED_DIR / "published-boards" / path).read_text().splitlines()]


def test_seed_imports_both_boards_once(db_session: Session) -> None:
    assert len(seed_if_empty(db_session)) == BOARD_ROWS + len(PUBLISHED)
    assert seed_if_empty(db_session) == []
    counts = dict(
        db_session.execute(
            select(EvaluationResult.benchmark, func.count()).group_by(EvaluationResult.benchmark)
        ).all()
    )
    assert counts == {"rewardbench-v1": 179 + 5, "rewardbench-v2": 197}


def test_reimporting_a_board_adds_nothing(db_session: Session) -> None:
    first = import_board(db_session, V2_BOARD)
    again = import_board(db_session, V2_BOARD)
    assert [outcome.result_id for outcome in again] == [outcome.result_id for outcome in first]


def test_each_v1_row_is_marked_with_the_formula_its_published_score_follows(db_session: Session) -> None:
    import_board(db_session, V1_BOARD)
    rows = db_session.execute(select(EvaluationResult.published_formula, EvaluationResult.score)).all()
    formulas = [formula for formula, _ in rows]
    assert formulas.count("mean-of-sections") == 74
    assert formulas.count("prior-sets-weighted") == 98
    # Seven rows have no Reasoning: their published Score is the mean of the three present, today's is none.
    unmatched = [score for formula, score in rows if formula is None]
    assert unmatched == [None] * 7


def test_matching_formula_on_worked_rows() -> None:
    v1 = get_benchmark("rewardbench-v1")
    sections = {"Chat": 0.9106, "Chat Hard": 0.6096, "Safety": 0.7135, "Reasoning": 0.8395}
    prior = {**sections, "Prior Sets": 0.5566}
    assert matching_formula(v1, prior, 0.7448) == "prior-sets-weighted"  # 0-hero/Matter-0.1-7B-boost-DPO
    assert matching_formula(v1, sections, round(sum(sections.values()) / 4, 4)) == "mean-of-sections"
    assert matching_formula(v1, prior, 0.70) is None


def test_boards_rank_by_todays_formula_beside_the_published_score(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        seed_if_empty(session)
    board = client.get("/api/v1/leaderboard", params={"per_page": 1000}).json()
    scores = [row["score"] for row in board["rows"] if row["score"] is not None]
    assert scores == sorted(scores, reverse=True)
    matter = next(row for row in board["rows"] if row["model"] == "0-hero/Matter-0.1-7B-boost-DPO-preview")
    assert matter["published_score"] == pytest.approx(0.7448)
    assert matter["published_formula"] == "prior-sets-weighted"
    assert matter["score"] == pytest.approx((0.9106 + 0.6096 + 0.7135 + 0.8395) / 4)
    assert matter["model_type"] == "dpo" and matter["sections"]["Prior Sets"] == pytest.approx(0.5566)
    unranked = [row for row in board["rows"] if row["score"] is None]
    assert len(unranked) == 7 and all(row["rank"] is None for row in unranked)
    v2 = client.get("/api/v1/leaderboard", params={"benchmark": "rewardbench-v2", "per_page": 1000}).json()
    assert v2["total"] == 197 and v2["sections"] == [
        "Factuality",
        "Precise IF",
        "Math",
        "Safety",
        "Focus",
        "Ties",
    ]
    assert all(row["published_formula"] is not None for row in v2["rows"])


def test_api_judges_are_shown_without_a_hub_link(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        seed_if_empty(session)
        assert (
            not session.scalars(select(RewardModel).where(RewardModel.hub_id == "Cohere March 2024"))
            .one()
            .hub_repo
        )
        assert (
            not session.scalars(select(RewardModel).where(RewardModel.hub_id == "openai/gpt-4o-2024-08-06"))
            .one()
            .hub_repo
        )
    soup = BeautifulSoup(client.get("/models/Cohere%20March%202024").text, "html.parser")
    assert "no repository on the Hub" in soup.get_text() and not soup.select(
        'a[href^="https://huggingface.co"]'
    )
    page = BeautifulSoup(client.get("/?q=gpt-4o-2024-08").text, "html.parser")
    assert page.select_one("td.col-model .badge-api") is not None


def test_a_published_row_never_hides_a_result_evaluated_here(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        import_board(session, V1_BOARD)
        make_result(session, "RLHFlow/ArmoRM-Llama3-8B-v0.1", 0.5, model_type="custom-classifier")
    rows = client.get("/api/v1/leaderboard", params={"q": "ArmoRM", "per_page": 1000}).json()["rows"]
    assert [(row["source"], row["score"]) for row in rows] == [("evaluated", pytest.approx(0.5))]
