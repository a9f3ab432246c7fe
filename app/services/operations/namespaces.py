"""Namespace policies set by maintainers: opted out of the board, or a submission quota of its own;
read by the submission checks beside OPT_OUT_NAMESPACES and RATE_LIMIT_COUNT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.db.models import NamespacePolicy
from app.db.repositories import operations as repo
from app.errors import DomainError
from app.services.intake.model_ids import invalid_hub_id
from app.services.operations.audit import record_event
from app.services.operations.maintainers import Actor


@dataclass(frozen=True, slots=True)
class NamespaceView:
    namespace: str
    opted_out: bool
    submission_quota: int | None
    note: str | None
    updated_by: str | None
    updated_at: datetime


def _view(policy: NamespacePolicy) -> NamespaceView:
    return NamespaceView(
        namespace=policy.namespace,
        opted_out=policy.opted_out,
        submission_quota=policy.submission_quota,
        note=policy.note,
        updated_by=policy.updated_by,
        updated_at=policy.updated_at,
    )


def list_policies(session: Session) -> list[NamespaceView]:
    return [_view(policy) for policy in repo.namespace_policies(session)]


def set_policy(
    session: Session,
    actor: Actor,
    namespace: str,
    *,
    opted_out: bool,
    submission_quota: int | None,
    note: str | None,
) -> NamespaceView:
    if "/" in namespace or invalid_hub_id(f"{namespace}/model") is not None:
        raise DomainError(f"{namespace!r} is not a Hub namespace (a user or an organisation).", 422)
    if submission_quota is not None and submission_quota < 0:
        raise DomainError("A submission quota is 0 or more submissions per window.", 422)
    policy = repo.upsert_namespace_policy(
        session,
        namespace,
        opted_out=opted_out,
        submission_quota=submission_quota,
        note=note,
        updated_by=actor.name,
    )
    record_event(
        session,
        actor=actor.name,
        action="namespace_updated",
        subject="namespace",
        subject_id=namespace.lower(),
        reason=note,
        detail={"opted_out": opted_out, "submission_quota": submission_quota},
    )
    return _view(policy)


def opted_out(session: Session, namespace: str) -> bool:
    policy = repo.namespace_policy(session, namespace)
    return bool(policy and policy.opted_out)


def quota(session: Session, namespace: str, default: int) -> int:
    """The namespace's submissions per window: its own quota where a maintainer set one, else the default."""
    policy = repo.namespace_policy(session, namespace)
    if policy is None or policy.submission_quota is None:
        return default
    return policy.submission_quota
