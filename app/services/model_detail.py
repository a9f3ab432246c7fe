"""One model's page: every result with its subsets, and a paginated browser over its scored pairs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, RewardModel
from app.db.repositories import models as repo
from app.errors import NotFoundError
from app.schemas.models import ExamplesPage, ModelRead, PairRead, ResultRead, SubsetScoreRead
from worker.engine.benchmark import SUBSET_NAMES, SUBSETS

_COMPUTED = frozenset({"subsets", "has_pairs"})
_SUBSET_ORDER = {name: index for index, name in enumerate(SUBSET_NAMES)}


def _get_model(session: Session, hub_id: str) -> RewardModel:
    model = repo.get_model(session, hub_id)
    if model is None:
        raise NotFoundError(f"unknown model {hub_id!r}")
    return model


def model_detail(session: Session, hub_id: str) -> ModelRead:
    """Every result of a model, newest first, each with its subset table."""
    model = _get_model(session, hub_id)
    results = repo.results_of_model(session, model.id)
    ids = [result.id for result in results]
    subsets: dict[int, list[SubsetScoreRead]] = {result_id: [] for result_id in ids}
    for row in sorted(repo.subsets_of_results(session, ids), key=lambda r: _SUBSET_ORDER.get(r.subset, 99)):
        section = SUBSETS[row.subset].section if row.subset in SUBSETS else ""
        read = SubsetScoreRead(
            subset=row.subset, section=section, accuracy=row.accuracy, n=row.n, correct=row.correct
        )
        subsets[row.result_id].append(read)
    with_pairs = repo.results_with_pairs(session, ids)
    reads = [_result_read(result, subsets[result.id], result.id in with_pairs) for result in results]
    current = next((result.id for result in results if result.is_current), None)
    return ModelRead(
        model=model.hub_id,
        display_name=model.display_name,
        model_type=model.model_type,
        parameters=model.parameter_count,
        license=model.license,
        base_model=model.base_model,
        current_result_id=current,
        results=reads,
    )


def _result_read(result: EvaluationResult, subsets: list[SubsetScoreRead], has_pairs: bool) -> ResultRead:
    fields = {name: getattr(result, name) for name in ResultRead.model_fields if name not in _COMPUTED}
    return ResultRead.model_validate({**fields, "subsets": subsets, "has_pairs": has_pairs})


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
    """Scored pairs of one result of the model (its current one unless ``result_id`` names another)."""
    model = _get_model(session, hub_id)
    if subset is not None and subset not in SUBSETS:
        raise NotFoundError(f"unknown subset {subset!r}")
    results = repo.results_of_model(session, model.id)
    if result_id is None:
        result = next((r for r in results if r.is_current), None)
    else:
        result = next((r for r in results if r.id == result_id), None)
    if result is None:
        missing = f"result {result_id}" if result_id is not None else "result yet"
        raise NotFoundError(f"model {hub_id!r} has no {missing}")
    offset = (page - 1) * per_page
    rows, total = repo.pair_page(
        session, result=result, subset=subset, wrong_only=wrong_only, offset=offset, limit=per_page
    )
    return ExamplesPage(
        model=model.hub_id,
        result_id=result.id,
        total=total,
        page=page,
        per_page=per_page,
        items=[PairRead.model_validate(dict(row)) for row in rows],
    )


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
    """What the model page shows: the model, the result on display and that result's pairs (if stored)."""
    detail = model_detail(session, hub_id)
    wanted = result_id if result_id is not None else detail.current_result_id
    shown = next((result for result in detail.results if result.id == wanted), None)
    if result_id is not None and shown is None:
        raise NotFoundError(f"model {hub_id!r} has no result {result_id}")
    examples = None
    if shown is not None and shown.has_pairs:
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
