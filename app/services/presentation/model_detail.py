"""One model's page: every result with its sections and subsets, and a browser over its scored examples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultVisibility, RewardModel
from app.db.repositories import leaderboard as board_repo
from app.db.repositories import models as repo
from app.errors import NotFoundError
from app.schemas.models import ExampleRead, ExamplesPage, ModelRead, ResultRead, SubsetScoreRead
from app.services.presentation.leaderboard import rank_upper_bounds
from app.services.presentation.parameters import describe, parameter_count
from app.services.presentation.series import series_root
from app.services.results.intervals import bounds, interval_note
from worker.engine.benchmarks import BENCHMARKS
from worker.engine.kinds import KINDS

_COMPUTED = frozenset(
    {
        "subsets",
        "sections",
        "has_examples",
        "model_type_label",
        "benchmark_label",
        "score_interval",
        "section_intervals",
        "interval_note",
        "rank",
        "rank_ub",
        "ranked_of",
    }
)


def _get_model(session: Session, hub_id: str) -> RewardModel:
    model = repo.get_model(session, hub_id)
    if model is None:
        raise NotFoundError(f"unknown model {hub_id!r}")
    return model


def model_detail(session: Session, hub_id: str) -> ModelRead:
    """Every result of a model, newest first, each with its sections and subset table."""
    model = _get_model(session, hub_id)
    results = repo.results_of_model(session, model.id)
    ids = [result.id for result in results]
    by_id = {result.id: result for result in results}
    sections: dict[int, dict[str, float]] = defaultdict(dict)
    intervals: dict[int, dict[str, list[float] | None]] = defaultdict(dict)
    for row in repo.sections_of_results(session, ids):
        sections[row.result_id][row.section] = row.value
        intervals[row.result_id][row.section] = bounds(row.low, row.high)
    subsets: dict[int, list[SubsetScoreRead]] = defaultdict(list)
    for subset_row in repo.subsets_of_results(session, ids):
        definition = BENCHMARKS.get(by_id[subset_row.result_id].benchmark)
        subset = definition.subset(subset_row.subset) if definition else None
        read = SubsetScoreRead(
            subset=subset_row.subset,
            section=subset.section if subset else "",
            value=subset_row.value,
            n=subset_row.n,
            correct=subset_row.correct,
        )
        subsets[subset_row.result_id].append(read)
    with_examples = repo.results_with_examples(session, ids)
    ranks = board_ranks(session, results)
    reads = [
        _result_read(
            result, sections[result.id], intervals[result.id], subsets[result.id], result.id in with_examples
        ).model_copy(update=ranks.get(result.id, {}))
        for result in results
    ]
    size = parameter_count(model.hub_id, model.parameter_count, model.active_parameter_count)
    return ModelRead(
        model=model.hub_id,
        display_name=model.display_name,
        hub_repo=model.hub_repo,
        parameters=model.parameter_count,
        parameters_from_name=size.total if size.source == "name" else None,
        active_parameters=size.active,
        parameters_source=size.source,
        parameters_text=describe(size),
        license=model.license,
        base_model=model.base_model,
        series=series_root(session, model.hub_id),
        current_result_ids=[result.id for result in results if result.is_current],
        results=reads,
    )


def board_ranks(session: Session, results: Sequence[EvaluationResult]) -> dict[int, dict[str, int]]:
    """Result id -> its rank, rank upper bound and the number ranked, for the results a board ranks."""
    ranked = [
        r
        for r in results
        if r.is_current and r.complete and r.score is not None and r.visibility != ResultVisibility.HIDDEN
    ]
    ranks: dict[int, dict[str, int]] = {}
    for benchmark in {result.benchmark for result in ranked}:
        board = board_repo.ranked_score_bounds(session, benchmark)
        upper = rank_upper_bounds(board)
        for result in (r for r in ranked if r.benchmark == benchmark):
            above = sum(1 for row in board if row[1] > (result.score or 0.0))
            ranks[result.id] = {
                "rank": 1 + above,
                "rank_ub": upper.get(result.id, 1 + above),
                "ranked_of": len(board),
            }
    return ranks


def _result_read(
    result: EvaluationResult,
    sections: dict[str, float],
    intervals: dict[str, list[float] | None],
    subsets: list[SubsetScoreRead],
    has_examples: bool,
) -> ResultRead:
    definition = BENCHMARKS.get(result.benchmark)
    order = {name: index for index, name in enumerate(definition.subset_names)} if definition else {}
    section_order = [section.name for section in definition.sections] if definition else sorted(sections)
    kind = KINDS.get(result.model_type)
    fields = {name: getattr(result, name) for name in ResultRead.model_fields if name not in _COMPUTED}
    return ResultRead.model_validate(
        {
            **fields,
            "model_type_label": kind.label if kind else result.model_type,
            "benchmark_label": definition.label if definition else result.benchmark,
            "sections": {name: sections[name] for name in section_order if name in sections},
            "section_intervals": {name: intervals.get(name) for name in section_order if name in sections},
            "score_interval": bounds(result.score_low, result.score_high),
            "interval_note": interval_note(result.interval_status, result.source),
            "subsets": sorted(subsets, key=lambda row: order.get(row.subset, len(order))),
            "has_examples": has_examples,
        }
    )


def model_examples(
    session: Session,
    hub_id: str,
    *,
    result_id: int | None,
    subset: str | None,
    wrong_only: bool,
    page: int,
    per_page: int,
) -> ExamplesPage:
    """Scored examples of one result of the model (its current one unless ``result_id`` names another)."""
    model = _get_model(session, hub_id)
    results = repo.results_of_model(session, model.id)
    if result_id is None:
        result = next((r for r in results if r.is_current), None)
    else:
        result = next((r for r in results if r.id == result_id), None)
    if result is None:
        missing = f"result {result_id}" if result_id is not None else "result yet"
        raise NotFoundError(f"model {hub_id!r} has no {missing}")
    definition = BENCHMARKS.get(result.benchmark)
    if subset is not None and (definition is None or definition.subset(subset) is None):
        raise NotFoundError(f"unknown subset {subset!r}")
    offset = (page - 1) * per_page
    rows, total = repo.example_page(
        session, result=result, subset=subset, wrong_only=wrong_only, offset=offset, limit=per_page
    )
    return ExamplesPage(
        model=model.hub_id,
        result_id=result.id,
        benchmark=result.benchmark,
        candidate_labels=list(definition.candidate_labels) if definition else [],
        total=total,
        page=page,
        per_page=per_page,
        items=[_example_read(row) for row in rows],
    )


def _example_read(row: RowMapping) -> ExampleRead:
    scores = [score for score in row["scores"] if score is not None]
    top_tie = (
        len(scores) == len(row["scores"]) > 1 and scores[0] == max(scores) and scores.count(scores[0]) > 1
    )
    return ExampleRead.model_validate({**row, "correct": row["outcome"] == 1.0, "top_tie": top_tie})


def model_view(
    session: Session,
    hub_id: str,
    *,
    result_id: int | None,
    subset: str | None,
    wrong_only: bool,
    page: int,
    per_page: int,
) -> tuple[ModelRead, ResultRead | None, ExamplesPage | None]:
    """What the model page shows: the model, the result on display and that result's examples (if stored)."""
    detail = model_detail(session, hub_id)
    wanted = result_id if result_id is not None else next(iter(detail.current_result_ids), None)
    shown = next((result for result in detail.results if result.id == wanted), None)
    if result_id is not None and shown is None:
        raise NotFoundError(f"model {hub_id!r} has no result {result_id}")
    examples = None
    if shown is not None and shown.has_examples:
        examples = model_examples(
            session,
            hub_id,
            result_id=shown.id,
            subset=subset,
            wrong_only=wrong_only,
            page=page,
            per_page=per_page,
        )
    return detail, shown, examples
