"""Bodies and answers of the admin API, the changelog and visitors' reports (the services' own views,
such as ``ChangelogEntry`` and ``ReportView``, are answered as they are)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from app.schemas.query import BenchmarkId
from app.services.operations.audit import ChangelogEntry


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HideRequest(StrictBody):
    reason: str = Field(min_length=1, max_length=2000, description="shown publicly beside the result")
    link: HttpUrl | None = Field(default=None, description="a public discussion of it (an issue, a thread)")


class ShowRequest(StrictBody):
    reason: str = Field(default="", max_length=2000, description="why it is shown again (for the log)")


class SupersedeRequest(StrictBody):
    by_result_id: int = Field(ge=1, le=2**31 - 1, description="the newer result of the same model and type")
    reason: str = Field(min_length=1, max_length=2000)


class CancelRequest(StrictBody):
    reason: str = Field(default="", max_length=2000, description="shown to the submitter")


class DeleteModelRequest(StrictBody):
    reason: str = Field(min_length=1, max_length=2000, description="e.g. the author's request, with a link")


class NamespaceRequest(StrictBody):
    opted_out: bool = Field(default=False, description="refuse every submission of the namespace")
    submission_quota: int | None = Field(
        default=None, ge=0, le=100_000, description="submissions per rate-limit window; null: the default"
    )
    note: str | None = Field(default=None, max_length=2000)


class RerunRequest(StrictBody):
    benchmark: BenchmarkId | None = Field(default=None, description="only this benchmark; default all")


class CloseReportRequest(StrictBody):
    status: Literal["resolved", "dismissed"]
    resolution: str = Field(default="", max_length=2000, description="what was done, for the log")


class ReportRequest(StrictBody):
    reason: str = Field(description="wrong_score, contamination, wrong_model, author_removal, abuse or other")
    text: str = Field(default="", max_length=4000, description="what is wrong, in your words")


class ResultState(BaseModel):
    result_id: int
    model: str
    benchmark: str
    model_type: str
    visibility: str
    visibility_reason: str | None
    visibility_link: str | None
    is_current: bool
    superseded_by_id: int | None


class ActionResult(BaseModel):
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ChangelogPage(BaseModel):
    entries: list[ChangelogEntry]
    next_before: int | None = Field(description="pass as before= for the next (older) page; null at the end")
