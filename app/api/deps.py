"""Request dependencies: one database session per request, committed once at the end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.session import unit_of_work
from app.services.presentation.leaderboard_cache import LeaderboardCache

M = TypeVar("M", bound=BaseModel)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: commit when the route returns, roll back when it raises.

    This is the only commit point of a request; services and repositories flush, never commit.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with unit_of_work(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_leaderboard_cache(request: Request) -> LeaderboardCache:
    cache: LeaderboardCache = request.app.state.leaderboard_cache
    return cache


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """For read-only hot paths that must not block the event loop: open a session in a worker thread."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


LeaderboardCacheDep = Annotated[LeaderboardCache, Depends(get_leaderboard_cache)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def query_model(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that validates the query string into ``model`` (422 on bad values).

    Cheaper per request than FastAPI's query-model parameters, which matters on the cached leaderboard;
    pair it with ``openapi_extra=query_openapi(model)`` so /docs still lists every parameter.
    """

    async def parse(request: Request) -> M:
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from None

    return parse


def query_openapi(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    parameters = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": field.get("description", ""),
            "schema": {key: value for key, value in field.items() if key != "description"},
        }
        for name, field in schema["properties"].items()
    ]
    return {"parameters": parameters}
