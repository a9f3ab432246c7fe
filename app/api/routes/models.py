"""GET /api/v1/models/{org}/{name} (or /models/{name} for API models) and its scored examples."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.deps import SessionDep
from app.schemas.models import ExamplesPage, ModelRead
from app.services.presentation.model_detail import model_detail, model_examples

router = APIRouter(prefix="/models", tags=["models"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown model, result or subset"}}


@router.get("/{org}/{name}", response_model=ModelRead, responses=NOT_FOUND)
def get_model(org: str, name: str, session: SessionDep) -> ModelRead:
    """Every result of a model (newest first) with sections, subsets and reproducibility data."""
    return model_detail(session, f"{org}/{name}")


@router.get("/{name}", response_model=ModelRead, responses=NOT_FOUND)
def get_named_model(name: str, session: SessionDep) -> ModelRead:
    """A model known by a name without a namespace (an API model of a published board)."""
    return model_detail(session, name)


@router.get("/{org}/{name}/examples", response_model=ExamplesPage, responses=NOT_FOUND)
def get_model_examples(
    org: str,
    name: str,
    session: SessionDep,
    result_id: Annotated[
        int | None, Query(description="a result of this model; default its current one")
    ] = None,
    subset: Annotated[str | None, Query(max_length=50, description="only this subset")] = None,
    wrong_only: Annotated[bool, Query(description="only the examples without full credit")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ExamplesPage:
    """Per-example scores of one result, paginated, with the benchmark texts when stored."""
    return model_examples(
        session,
        f"{org}/{name}",
        result_id=result_id,
        subset=subset,
        wrong_only=wrong_only,
        page=page,
        per_page=per_page,
    )
