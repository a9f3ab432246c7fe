"""Judge endpoints for maintainers: the registered endpoints (never their keys), and the rule that only
maintainers check or submit a judge on an endpoint (used by the submission API and the /submit form)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.api.admin_auth import MaintainerDep, NotAMaintainerError, require_maintainer
from app.api.deps import SettingsDep
from app.errors import DomainError
from app.services.intake.endpoint_judges import is_endpoint_kind, listed_endpoints

router = APIRouter(prefix="/admin", tags=["admin"])


class EndpointLimitsRead(BaseModel):
    max_concurrency: int
    requests_per_minute: float | None
    max_requests_per_run: int
    timeout_s: float
    max_retries: int
    backoff_s: float
    max_backoff_s: float


class EndpointRead(BaseModel):
    name: str = Field(description="what a submission names in settings.endpoint")
    provider: str
    api: str = Field(description="completions (token-id prompts) or chat (messages)")
    host: str = Field(description="the base URL's host and port")
    model: str = Field(description="the served model name sent with each request")
    model_id: str = Field(description="the id results are shown under on the board (with the API mark)")
    tokenizer: str | None
    tokenizer_revision: str | None
    key: str = Field(description="where the worker reads the key: environment variable, file or none")
    supports_seed: bool
    limits: EndpointLimitsRead


class EndpointList(BaseModel):
    items: list[EndpointRead]


@router.get(
    "/endpoints",
    response_model=EndpointList,
    responses={
        401: {"description": "no or wrong operator token, not signed in"},
        403: {"description": "signed in, not a maintainer"},
        503: {"description": "the endpoint registry is misconfigured; detail says how"},
    },
)
def list_endpoints(settings: SettingsDep, maintainer: MaintainerDep) -> Any:
    """The judge endpoints the operator registered (JUDGE_ENDPOINTS, JUDGE_ENDPOINTS_FILE): names,
    provider, served model, limits. Keys are never shown, nor where they are kept."""
    return EndpointList(items=[EndpointRead.model_validate(row) for row in listed_endpoints(settings)])


def require_endpoint_submitter(request: Request, model_type: str) -> None:
    """A judge on an endpoint is checked and submitted by maintainers only: 401 without credentials, 403 for
    a signed-in user who is not one. Other model types pass."""
    if not is_endpoint_kind(model_type):
        return
    try:
        require_maintainer(request)
    except NotAMaintainerError as error:
        raise DomainError(
            f"Judges on endpoints are submitted by the board's maintainers only. {error.message}",
            error.status_code,
            headers=error.headers,
        ) from None
