"""GET /api/v1/compare: models side by side on one benchmark, and the examples they disagree on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import SessionDep, query_openapi
from app.schemas.compare import CompareQuery, CompareRead
from app.services.presentation.compare import compare

router = APIRouter(tags=["compare"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "a model without a result on the benchmark, or an unknown subset"},
    422: {"description": "fewer than 2 or more than 4 models, or a bad parameter"},
}


async def compare_query(request: Request) -> CompareQuery:
    """The query string as a ``CompareQuery``; ``models`` may be comma-separated, repeated, or both."""
    params: dict[str, Any] = dict(request.query_params)
    params["models"] = request.query_params.getlist("models")
    try:
        return CompareQuery.model_validate(params)
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


CompareQueryDep = Annotated[CompareQuery, Depends(compare_query)]


@router.get(
    "/compare", response_model=CompareRead, responses=ERRORS, openapi_extra=query_openapi(CompareQuery)
)
def get_compare(session: SessionDep, query: CompareQueryDep) -> CompareRead:
    """2 to 4 models on one benchmark: Score and sections with their 95% intervals, every subset, and a page
    of the examples they disagree on, with the texts and each model's scores."""
    return compare(session, query)
