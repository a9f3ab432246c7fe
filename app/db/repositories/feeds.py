"""What the feeds ask besides the audit log: whether a model or an organisation is known to the board."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, RewardModel


def model_known(session: Session, hub_id: str) -> bool:
    """A model row of that name, or audit lines about it (a deleted model keeps its lines)."""
    name = hub_id.lower()
    as_model = select(RewardModel.id).where(func.lower(RewardModel.hub_id) == name).limit(1)
    in_log = select(AuditEvent.id).where(func.lower(AuditEvent.model) == name).limit(1)
    return session.scalar(as_model) is not None or session.scalar(in_log) is not None


def organisation_known(session: Session, organisation: str) -> bool:
    """A model under ``organisation/``, or audit lines about one."""
    prefix = organisation.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    as_model = select(RewardModel.id).where(func.lower(RewardModel.hub_id).like(prefix, escape="\\")).limit(1)
    in_log = select(AuditEvent.id).where(func.lower(AuditEvent.model).like(prefix, escape="\\")).limit(1)
    return session.scalar(as_model) is not None or session.scalar(in_log) is not None
