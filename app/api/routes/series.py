"""GET /api/v1/series/{org}/{name}: the series a model belongs to, and GET /api/v1/model-types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import SessionDep
from app.schemas.series import SeriesRead
from app.services.presentation.series import series_view
from worker.engine.kinds import KINDS

router = APIRouter(tags=["models"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "unknown model, or in no series"}}


@router.get("/series/{org}/{name}", response_model=SeriesRead, responses=NOT_FOUND)
def get_series(org: str, name: str, session: SessionDep) -> SeriesRead:
    """Every iteration of the chain the model belongs to, and for each benchmark and model type how the
    Score, sections and subsets move from one iteration to the next."""
    return series_view(session, f"{org}/{name}")


class SettingRead(BaseModel):
    name: str
    label: str
    input: str = Field(description="checkbox, select, number or text")
    choices: list[str]
    default: Any
    minimum: int | None
    maximum: int | None
    help: str


class ModelTypeRead(BaseModel):
    key: str = Field(description="the value of model_type")
    label: str
    description: str
    evaluable: bool = Field(description="false: results of this type are imported only")
    ties: str = Field(description="strict: a tie is wrong; shared: a tie shares the credit (judges)")
    ranked_with_others: bool = Field(description="false: kept off the main ranking unless asked for")
    settings: list[SettingRead] = Field(description="what a submission's settings object may hold")


@router.get("/model-types", response_model=list[ModelTypeRead])
def model_types() -> list[ModelTypeRead]:
    """Every model type, with the settings a submission of it takes."""
    return [
        ModelTypeRead(
            key=key,
            label=kind.label,
            description=kind.description,
            evaluable=kind.evaluable,
            ties=kind.tie_policy,
            ranked_with_others=kind.ranked_with_others,
            settings=[
                SettingRead(
                    name=field.name,
                    label=field.label,
                    input=field.input,
                    choices=list(field.choices),
                    default=field.default,
                    minimum=field.minimum,
                    maximum=field.maximum,
                    help=field.help,
                )
                for field in kind.settings_fields()
            ],
        )
        for key, kind in KINDS.items()
    ]
