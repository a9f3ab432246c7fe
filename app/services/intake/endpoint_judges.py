"""Judges on registered endpoints, on the web side: the registry from the settings, who may submit such a
judge (maintainers only), the checks that stand in for the Hub's, and the maintainers' list of endpoints.

The registry is the operator's configuration (``JUDGE_ENDPOINTS``, ``JUDGE_ENDPOINTS_FILE``), never the
database; the web side reads it to check a submission and to list endpoints without their keys (it never
reads a key: only the worker does, when it calls). An endpoint judge's model id is the endpoint's
``model_id``, a model with no Hub repository (``hub_repo`` false: the board's "API" mark); its "commit" is the
served model's name, and the served model is pinned in the kind settings, so both are in the run's identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import RewardModel
from app.db.repositories.operations import model_by_hub_id, model_counts
from app.db.session import unit_of_work
from app.errors import DomainError
from app.services.intake import queues
from app.services.intake.hub import HubModel
from worker.engine.judging.endpoints import (
    Endpoint,
    EndpointConfigError,
    EndpointRegistry,
    EndpointSources,
    load_registry,
)
from worker.engine.kinds import KINDS
from worker.engine.model_kinds.endpoint_judges import EndpointJudgeKind

if TYPE_CHECKING:
    from app.services.intake.validation import Check, _Validator

# The longest served model name kept as a submission's "commit" (the column's width).
COMMIT_WIDTH = 64


def endpoint_sources(settings: Settings) -> EndpointSources:
    file = settings.judge_endpoints_file
    return EndpointSources(settings.judge_endpoints or None, str(file) if file else None)


def registry(settings: Settings) -> EndpointRegistry:
    """The registered endpoints; ``EndpointConfigError`` in words when the configuration is wrong."""
    return load_registry(endpoint_sources(settings))


def check_registry(settings: Settings) -> None:
    """Refuse to start with a registry that does not load (``ConfigurationError`` naming what is wrong)."""
    from app.config import ConfigurationError

    try:
        registry(settings)
    except EndpointConfigError as error:
        raise ConfigurationError(f"The judge endpoints cannot be used: {error.message}.") from None


def is_endpoint_kind(model_type: str) -> bool:
    kind = KINDS.get(model_type)
    return kind is not None and kind.runs_on_endpoint


# The submission checks -------------------------------------------------------------------------------------


def endpoint_plan(validator: _Validator) -> list[Any]:
    """The checks of an endpoint judge, in the validator's plan format: the endpoint and model id instead
    of the Hub's, then the checks every submission has (type, series, opt-out, limits, duplicates)."""
    checks = _EndpointChecks(validator)

    def one(check: Callable[[], Check]) -> Callable[[], list[Check]]:
        return lambda: [check()]

    return [
        (("endpoint",), (), one(checks.endpoint)),
        (("model_type",), (), one(validator.check_model_type)),
        (("model_id",), ("endpoint",), one(checks.model_id)),
        (("iteration_of",), ("model_id",), one(validator.check_iteration_of)),
        (("opt_out",), ("model_id",), one(validator.check_opt_out)),
        (("rate_limit",), ("model_id",), one(validator.check_rate_limit)),
        (("duplicate",), ("model_id", "model_type"), one(validator.check_duplicate)),
        (("queue",), ("endpoint", "model_type"), one(checks.queue)),
    ]


@dataclass
class _EndpointChecks:
    validator: _Validator

    def _check(self, name: str, ok: bool, message: str, status: int = 422) -> Check:
        from app.services.intake.validation import Check

        return Check(name, ok, message, http_status=status)

    def endpoint(self) -> Check:
        from app.services.intake.validation import run_config

        validator = self.validator
        request, settings = validator.request, validator.settings
        kind = validator.kind
        assert isinstance(kind, EndpointJudgeKind)
        name = str(getattr(validator.kind_settings, "endpoint", ""))
        try:
            registered = registry(settings)
        except EndpointConfigError as error:
            return self._check(
                "endpoint", False, f"The judge endpoints are misconfigured here ({error.message}).", 503
            )
        endpoint = registered.find(name)
        if endpoint is None:
            listed = ", ".join(registered.names()) or "none is registered"
            message = f"No judge endpoint named {name!r} is registered ({listed})."
            return self._check("endpoint", False, message)
        if request.model != endpoint.model_id:
            return self._check(
                "endpoint",
                False,
                f"Endpoint {name!r} serves {endpoint.model!r}, shown on the board as {endpoint.model_id}: "
                f"submit it with model {endpoint.model_id!r}.",
            )
        pinned = getattr(validator.kind_settings, "served_model", None)
        if pinned is not None and pinned != endpoint.model:
            return self._check(
                "endpoint",
                False,
                f"settings.served_model is set by the checks: endpoint {name!r} serves {endpoint.model!r}, "
                f"not {pinned!r}.",
            )
        settings_now = kind.pin_endpoint(validator.kind_settings, endpoint.model)
        validator.kind_settings = settings_now
        report = validator.report
        report.endpoint = endpoint
        report.model = stand_in_model(endpoint, request.revision)
        report.run_config = run_config(request, settings, settings_now)
        return self._check(
            "endpoint",
            True,
            f"{endpoint.provider} endpoint {name!r} ({endpoint.api} API at {endpoint.host}) serves "
            f"{endpoint.model!r}; results are shown as {endpoint.model_id} with the API mark.",
        )

    def model_id(self) -> Check:
        validator = self.validator
        endpoint = validator.report.endpoint
        assert endpoint is not None
        with unit_of_work(validator.factory) as session:
            stored = model_by_hub_id(session, endpoint.model_id)
            refusal = _hub_model_refusal(session, stored, endpoint) if stored is not None else None
        if refusal is not None:
            return self._check("model_id", False, refusal)
        where = "already on the board as an API model" if stored is not None else "new on the board"
        return self._check("model_id", True, f"{endpoint.model_id} is {where} (no Hub repository).")

    def queue(self) -> Check:
        validator = self.validator
        smallest = queues.class_for(0, validator.settings)
        assert smallest is not None and validator.report.run_config is not None
        validator.report.queue = smallest.queue
        limit = queues.time_limit_s(validator.report.run_config, validator.settings)
        return self._check(
            "queue",
            True,
            f"The endpoint holds the weights: queued for any worker ({smallest.label} or more; time limit "
            f"{limit // 60} minutes).",
        )


def stand_in_model(endpoint: Endpoint, revision: str) -> HubModel:
    """What the rest of the submission path reads of a Hub model, for an endpoint's model."""
    return HubModel(
        repo_id=endpoint.model_id,
        revision=revision,
        sha=endpoint.model[:COMMIT_WIDTH],
        filenames=(),
        parameter_count=None,
        gated=False,
    )


def _hub_model_refusal(session: Session, stored: RewardModel, endpoint: Endpoint) -> str | None:
    if not stored.hub_repo and stored.hub_id == endpoint.model_id:
        return None
    if stored.hub_id != endpoint.model_id:
        return (
            f"{stored.hub_id} is on this board already, spelled differently; register the endpoint with "
            f"model_id {stored.hub_id!r} or another id of its own."
        )
    if model_counts(session, stored.id) == (0, 0):
        return None
    return (
        f"{endpoint.model_id} is on this board as a model with a Hub repository; an endpoint's results are "
        "not mixed with it: register the endpoint with a model_id of its own."
    )


def claim_api_model(session: Session, model: RewardModel, endpoint: Endpoint) -> Check | None:
    """Mark the locked model row of an endpoint judge as having no Hub repository (the API mark); a failed
    ``model_id`` check instead when the row became a Hub model's since the checks ran."""
    if model.hub_repo:
        refusal = _hub_model_refusal(session, model, endpoint)
        if refusal is not None:
            from app.services.intake.validation import Check

            return Check("model_id", False, refusal)
    model.hub_repo = False
    return None


# The maintainers' list -------------------------------------------------------------------------------------


def listed_endpoints(settings: Settings) -> list[dict[str, Any]]:
    """Every registered endpoint as a maintainer sees it: no key and no key location, the host only."""
    try:
        found = registry(settings)
    except EndpointConfigError as error:
        raise DomainError(f"The judge endpoints are misconfigured here: {error.message}", 503) from None
    rows = []
    for name in found.names():
        endpoint = found.get(name)
        rows.append(
            {
                **endpoint.describe(),
                "key": endpoint.key_source,
                "supports_seed": endpoint.supports_seed,
                "limits": endpoint.limits(),
            }
        )
    return rows
