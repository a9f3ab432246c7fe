"""Model series: a submission may name the model it was trained from (``iteration_of``); chains of such
models (Self-Rewarding iterations M1 -> M2 -> M3, SPIN iterations, iterative DPO) form a series.

A predecessor must be a model this board knows (submitted or imported before); a model has one predecessor,
and no chain may loop back on itself. The series view shows every member by iteration, and for each
benchmark and model type how the Score, sections and subsets move from one iteration to the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, RewardModel
from app.db.repositories import models as model_repo
from app.db.repositories import series as repo
from app.errors import NotFoundError
from app.schemas.series import SeriesMember, SeriesPoint, SeriesRead, SeriesTrack
from worker.engine.benchmarks import BENCHMARKS
from worker.engine.kinds import KINDS


@dataclass(frozen=True, slots=True)
class IterationCheck:
    ok: bool
    message: str
    predecessor: str | None = None  # the predecessor's id as stored here


def check_iteration_of(session: Session, model: str, predecessor: str) -> IterationCheck:
    """Whether ``model`` may be recorded as trained from ``predecessor``, in words either way."""
    if predecessor.strip().lower() == model.strip().lower():
        return IterationCheck(False, "A model cannot be an iteration of itself.")
    before = repo.model_by_id_any_case(session, predecessor)
    if before is None:
        return IterationCheck(
            False,
            f"{predecessor} is not on this board, so it cannot start or continue a series: submit (or "
            "import) it first, then name it as the predecessor.",
        )
    chain = [before, *repo.predecessors(session, before.id)]
    existing = repo.model_by_id_any_case(session, model)
    if existing is not None:
        if existing.iteration_of_id is not None and existing.iteration_of_id != before.id:
            current = session.get(RewardModel, existing.iteration_of_id)
            named = current.hub_id if current is not None else "another model"
            return IterationCheck(
                False,
                f"{existing.hub_id} is already recorded as an iteration of {named}; a model has one "
                "predecessor.",
            )
        if any(member.id == existing.id for member in chain):
            return IterationCheck(
                False,
                f"{before.hub_id} is itself an iteration (directly or through others) of {existing.hub_id}; "
                "naming it as the predecessor would make the series a loop.",
            )
    root = chain[-1].hub_id
    return IterationCheck(
        True,
        f"{model} follows {before.hub_id}: iteration {len(chain)} of the series that starts with {root}.",
        before.hub_id,
    )


def record_iteration(session: Session, model: RewardModel, predecessor: str) -> IterationCheck:
    """Link ``model`` to its predecessor (checked again, under the caller's lock on the model row)."""
    verdict = check_iteration_of(session, model.hub_id, predecessor)
    if verdict.ok:
        before = repo.model_by_id_any_case(session, predecessor)
        assert before is not None
        model.iteration_of_id = before.id
        session.flush()
    return verdict


def series_root(session: Session, hub_id: str) -> str | None:
    """The first model of the series ``hub_id`` belongs to, or None when it is in none."""
    model = repo.model_by_id_any_case(session, hub_id)
    if model is None:
        return None
    chain = repo.predecessors(session, model.id)
    if chain:
        return chain[-1].hub_id
    return model.hub_id if repo.successors(session, [model.id]) else None


def series_view(session: Session, hub_id: str) -> SeriesRead:
    """Every member of the series ``hub_id`` belongs to, and each benchmark and type's results along it."""
    model = repo.model_by_id_any_case(session, hub_id)
    if model is None:
        raise NotFoundError(f"unknown model {hub_id!r}")
    chain = repo.predecessors(session, model.id)
    root = chain[-1] if chain else model
    members = _members(session, root)
    if len(members) < 2:
        raise NotFoundError(f"{model.hub_id} is not part of a series (no predecessor and no successor)")
    by_id = {member.id: member for member, _ in members}
    iteration = {member.id: depth for member, depth in members}
    results = repo.current_results(session, list(by_id))
    tracks = _tracks(session, results, by_id, iteration)
    return SeriesRead(
        root=root.hub_id,
        members=[
            SeriesMember(
                model=member.hub_id,
                display_name=member.display_name,
                iteration=depth,
                iteration_of=by_id[member.iteration_of_id].hub_id
                if member.iteration_of_id in by_id
                else None,
            )
            for member, depth in members
        ],
        tracks=tracks,
    )


def _members(session: Session, root: RewardModel) -> list[tuple[RewardModel, int]]:
    members = [(root, 0)]
    seen = {root.id}
    level = [root.id]
    depth = 0
    while level and depth < repo.MAX_CHAIN:
        depth += 1
        following = [model for model in repo.successors(session, level) if model.id not in seen]
        seen.update(model.id for model in following)
        members.extend((model, depth) for model in following)
        level = [model.id for model in following]
    return members


def _tracks(
    session: Session,
    results: Sequence[EvaluationResult],
    by_id: dict[int, RewardModel],
    iteration: dict[int, int],
) -> list[SeriesTrack]:
    rows = list(results)
    ids = [row.id for row in rows]
    sections: dict[int, dict[str, float]] = defaultdict(dict)
    for section in model_repo.sections_of_results(session, ids):
        sections[section.result_id][section.section] = section.value
    subsets: dict[int, dict[str, float]] = defaultdict(dict)
    for subset in model_repo.subsets_of_results(session, ids):
        subsets[subset.result_id][subset.subset] = subset.value
    grouped: dict[tuple[str, str], list[EvaluationResult]] = defaultdict(list)
    for row in rows:
        grouped[(row.benchmark, row.model_type)].append(row)
    tracks = []
    for (benchmark, model_type), members in sorted(grouped.items()):
        definition = BENCHMARKS.get(benchmark)
        kind = KINDS.get(model_type)
        members.sort(key=lambda row: (iteration[row.reward_model_id], by_id[row.reward_model_id].hub_id))
        score_by_model = {row.reward_model_id: row.score for row in members}
        points = []
        for row in members:
            member = by_id[row.reward_model_id]
            before = score_by_model.get(member.iteration_of_id) if member.iteration_of_id else None
            change = row.score - before if row.score is not None and before is not None else None
            points.append(
                SeriesPoint(
                    model=member.hub_id,
                    iteration=iteration[row.reward_model_id],
                    result_id=row.id,
                    score=row.score,
                    score_low=row.score_low,
                    score_high=row.score_high,
                    complete=row.complete,
                    score_change=change,
                    sections=sections[row.id],
                    subsets=subsets[row.id],
                )
            )
        present = {name for row in members for name in subsets[row.id]}
        order = definition.subset_names if definition else tuple(sorted(present))
        section_names = [section.name for section in definition.sections] if definition else []
        tracks.append(
            SeriesTrack(
                benchmark=benchmark,
                benchmark_label=definition.label if definition else benchmark,
                model_type=model_type,
                model_type_label=kind.label if kind else model_type,
                sections=[name for name in section_names if any(name in sections[r.id] for r in members)],
                subsets=[name for name in order if name in present],
                points=points,
            )
        )
    return tracks
