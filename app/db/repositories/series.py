"""Model series: which model each one was trained from (``reward_model.iteration_of_id``) and the chains
they form. Chains are short, so they are walked one level per query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, RewardModel
from app.db.repositories.leaderboard import on_board

# No chain is longer; a longer walk means a cycle the checks should have refused.
MAX_CHAIN = 1000


def model_by_id_any_case(session: Session, hub_id: str) -> RewardModel | None:
    """The model stored under ``hub_id`` in any casing (the oldest row when several)."""
    statement = (
        select(RewardModel)
        .where(func.lower(RewardModel.hub_id) == hub_id.lower())
        .order_by(RewardModel.id)
        .limit(1)
    )
    return session.scalars(statement).first()


def predecessors(session: Session, model_id: int) -> list[RewardModel]:
    """The chain above a model, nearest first (its predecessor, that one's predecessor...)."""
    chain: list[RewardModel] = []
    seen = {model_id}
    current = session.get(RewardModel, model_id)
    while current is not None and current.iteration_of_id is not None and len(chain) < MAX_CHAIN:
        if current.iteration_of_id in seen:
            break
        seen.add(current.iteration_of_id)
        current = session.get(RewardModel, current.iteration_of_id)
        if current is not None:
            chain.append(current)
    return chain


def successors(session: Session, model_ids: Sequence[int]) -> list[RewardModel]:
    """The models trained from any of ``model_ids``."""
    if not model_ids:
        return []
    statement = (
        select(RewardModel).where(RewardModel.iteration_of_id.in_(model_ids)).order_by(RewardModel.hub_id)
    )
    return list(session.scalars(statement))


def current_results(session: Session, model_ids: Sequence[int]) -> Sequence[EvaluationResult]:
    """The current result of each (model, benchmark, type) of these models."""
    if not model_ids:
        return []
    statement = select(EvaluationResult).where(
        EvaluationResult.reward_model_id.in_(model_ids),
        EvaluationResult.is_current.is_(True),
        on_board(),
    )
    return session.scalars(statement).all()
