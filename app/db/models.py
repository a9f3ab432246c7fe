"""ORM models. Alembic migrations under migrations/ are the source of the schema; a test keeps them equal."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class SubmissionStatus(enum.StrEnum):
    PENDING = "pending"
    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ResultSource(enum.StrEnum):
    EVALUATED = "evaluated"
    IMPORTED = "imported"


class ResultVisibility(enum.StrEnum):
    """What the board does with a result: list it, list it with a mark and its reason, or leave it off
    (a hidden result shows on its model page with the reason, and on the board only behind a filter)."""

    VISIBLE = "visible"
    FLAGGED = "flagged"
    HIDDEN = "hidden"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _str_enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class RewardModel(Base):
    """A model by its name: a Hub id (org/name), or the name of an API model that has no Hub repository.

    ``iteration_of_id`` names the model this one was trained from (its previous iteration), so chains of
    iterations (Self-Rewarding, SPIN, iterative DPO) form a series; it never forms a cycle.
    """

    __tablename__ = "reward_model"
    __table_args__ = (Index("ix_reward_model_iteration_of_id", "iteration_of_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_id: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    hub_repo: Mapped[bool] = mapped_column(Boolean, default=True)
    parameter_count: Mapped[int | None] = mapped_column(BigInteger)
    # A mixture of experts' parameters used per token (from its config.json at submission); None if dense.
    active_parameter_count: Mapped[int | None] = mapped_column(BigInteger)
    license: Mapped[str | None] = mapped_column(String(100))
    base_model: Mapped[str | None] = mapped_column(String(200))
    iteration_of_id: Mapped[int | None] = mapped_column(ForeignKey("reward_model.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    results: Mapped[list[EvaluationResult]] = relationship(back_populates="reward_model", lazy="raise")
    submissions: Mapped[list[Submission]] = relationship(back_populates="reward_model", lazy="raise")


class Submission(Base):
    """A request to evaluate one model commit on one benchmark as one kind, with every setting fixed.

    ``run_config`` holds every setting that changes the result (see ``app.services.intake.run_spec``);
    ``config_key`` is its hash, so two submissions of one commit with the same settings are duplicates.
    ``queue`` is the Celery queue its memory need routes it to (``memory_bytes``, an estimate);
    ``iteration_of`` the predecessor the submitter named (a series), as given.
    """

    __tablename__ = "submission"
    __table_args__ = (
        Index("ix_submission_status_created_at", "status", "created_at"),
        Index("ix_submission_dedup", "reward_model_id", "resolved_commit", "config_key"),
        Index("ix_submission_client_address_created_at", "client_address", "created_at"),
        Index("ix_submission_submitter_created_at", "submitter", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reward_model_id: Mapped[int] = mapped_column(ForeignKey("reward_model.id", ondelete="CASCADE"))
    requested_revision: Mapped[str] = mapped_column(String(200), default="main")
    resolved_commit: Mapped[str | None] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(50))
    benchmark: Mapped[str] = mapped_column(String(50))
    run_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config_key: Mapped[str] = mapped_column(String(64), default="")
    has_chat_template: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[SubmissionStatus] = mapped_column(
        Enum(SubmissionStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=SubmissionStatus.PENDING,
    )
    failure_kind: Mapped[str | None] = mapped_column(String(50))
    failure_message: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_subset: Mapped[str | None] = mapped_column(String(50))  # the subset being scored now
    submitter: Mapped[str | None] = mapped_column(String(200))
    client_address: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(50))
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    iteration_of: Mapped[str | None] = mapped_column(String(200))
    # Higher runs sooner within its queue (a maintainer's "move up"); ties by creation time.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where to tell the submitter of the outcome (http(s), a public address) and the HMAC key of the body.
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    reward_model: Mapped[RewardModel] = relationship(back_populates="submissions", lazy="raise")


class SubmissionLimitLock(Base):
    """One row per limited key (a namespace, a client address, a user), locked by the transaction that
    counts and records a submission under that key, so concurrent submissions are counted one at a time."""

    __tablename__ = "submission_limit_lock"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)


class EvaluationResult(Base):
    """One model's result on one benchmark. Section values live in ``section_score`` rows.

    ``complete`` is False for a run over part of the data: such a result is never ranked. ``is_current``
    marks the one result the leaderboard shows per (model, benchmark, model type). ``published_score`` is
    the Score a published board printed, and ``published_formula`` which of the benchmark's Score formulas
    it follows (None: none of them).
    """

    __tablename__ = "evaluation_result"
    __table_args__ = (
        Index("ix_evaluation_result_board", "benchmark", "is_current", "score"),
        Index("ix_evaluation_result_reward_model_id", "reward_model_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reward_model_id: Mapped[int] = mapped_column(ForeignKey("reward_model.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL"), unique=True
    )
    benchmark: Mapped[str] = mapped_column(String(50))
    benchmark_version: Mapped[str] = mapped_column(String(100), default="")
    scoring_version: Mapped[str] = mapped_column(String(50))
    revision: Mapped[str | None] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(50))
    chat_template: Mapped[str] = mapped_column(String(100), default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column(Float)
    # The 95% bootstrap interval of the Score (see app.services.results.intervals); ``interval_status``
    # says whether one was computed ("computed"), or why not ("no_examples", "undefined"); None: not yet.
    # ``interval_version`` names the scoring version and method it was computed under.
    score_low: Mapped[float | None] = mapped_column(Float)
    score_high: Mapped[float | None] = mapped_column(Float)
    interval_status: Mapped[str | None] = mapped_column(String(20))
    interval_version: Mapped[str | None] = mapped_column(String(120))
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    published_score: Mapped[float | None] = mapped_column(Float)
    published_formula: Mapped[str | None] = mapped_column(String(50))
    reproducibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[ResultSource] = mapped_column(
        Enum(ResultSource, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    source_detail: Mapped[str | None] = mapped_column(Text)
    source_digest: Mapped[str | None] = mapped_column(String(64))  # sha256 of an imported file
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    # Moderation: hidden or flagged by a maintainer with a public reason and an optional link.
    visibility: Mapped[ResultVisibility] = mapped_column(
        _str_enum(ResultVisibility), default=ResultVisibility.VISIBLE, server_default="visible"
    )
    visibility_reason: Mapped[str | None] = mapped_column(Text)
    visibility_link: Mapped[str | None] = mapped_column(String(500))
    visibility_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluation_result.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    reward_model: Mapped[RewardModel] = relationship(back_populates="results", lazy="raise")


class SectionScore(Base):
    __tablename__ = "section_score"
    __table_args__ = (UniqueConstraint("result_id", "section"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("evaluation_result.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(50))
    value: Mapped[float] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)  # the 95% bootstrap interval, when computed
    high: Mapped[float | None] = mapped_column(Float)


class SubsetScore(Base):
    __tablename__ = "subset_score"
    __table_args__ = (
        UniqueConstraint("result_id", "subset"),
        Index("ix_subset_score_subset_value", "subset", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("evaluation_result.id", ondelete="CASCADE"))
    subset: Mapped[str] = mapped_column(String(50))
    n: Mapped[int | None] = mapped_column(Integer)
    correct: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)


class ExampleResult(Base):
    """One scored example of a result: a score per candidate and the benchmark's outcome."""

    __tablename__ = "example_result"
    __table_args__ = (UniqueConstraint("result_id", "subset", "example_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("evaluation_result.id", ondelete="CASCADE"))
    subset: Mapped[str] = mapped_column(String(50))
    example_id: Mapped[str] = mapped_column(String(100))
    scores: Mapped[list[float | None]] = mapped_column(JSON)
    num_correct: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BenchmarkExample(Base):
    """The text of a benchmark example, so the example browser can show the prompt and its candidates."""

    __tablename__ = "benchmark_example"
    __table_args__ = (UniqueConstraint("benchmark", "subset", "example_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    benchmark: Mapped[str] = mapped_column(String(50))
    subset: Mapped[str] = mapped_column(String(50))
    example_id: Mapped[str] = mapped_column(String(100))
    prompt: Mapped[str] = mapped_column(Text)  # the last user turn
    conversation: Mapped[list[list[str]]] = mapped_column(JSON)  # [[role, content], ...] before the response
    candidates: Mapped[list[str]] = mapped_column(JSON)
    num_correct: Mapped[int] = mapped_column(Integer, default=1)
    candidate_models: Mapped[list[str]] = mapped_column(JSON, default=list)


class AuditEvent(Base):
    """One line of the public audit log: a maintainer's action or a result's change of state.

    Append-only: rows are inserted, never updated or deleted (a deleted model keeps its lines, by name).
    ``actor`` is a maintainer's Hub name, "operator" for the operator token, or "service" for the service's
    own changes (a run finished, a result superseded by a newer run). ``model`` is the Hub id the event is
    about, so feeds per model and per organisation read it directly.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_created_at", "created_at"),
        Index("ix_audit_event_model_created_at", "model", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(30))  # result, submission, model, namespace, report, snapshot
    subject_id: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    benchmark: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ResultReport(Base):
    """A visitor's report of a result, waiting in the maintainers' inbox until resolved or dismissed."""

    __tablename__ = "result_report"
    __table_args__ = (
        Index("ix_result_report_status_created_at", "status", "created_at"),
        Index("ix_result_report_client_address_created_at", "client_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("evaluation_result.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text, default="")
    reporter: Mapped[str | None] = mapped_column(String(200))  # the signed-in user, if any
    client_address: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[ReportStatus] = mapped_column(_str_enum(ReportStatus), default=ReportStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(Text)


class NamespacePolicy(Base):
    """A maintainer's setting for one Hub namespace: opted out of the board, or its own submission quota
    (submissions per rate-limit window, in place of the default); beside OPT_OUT_NAMESPACES."""

    __tablename__ = "namespace_policy"

    namespace: Mapped[str] = mapped_column(String(200), primary_key=True)  # lower case
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    submission_quota: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One notification of a submission's outcome to its webhook: its state, tries and last answer."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("submission_id", "event"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(30))  # finished, failed, flagged, superseded, hidden
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[DeliveryStatus] = mapped_column(_str_enum(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerHeartbeat(Base):
    """The last sign of life of each worker process, for /readyz and the heartbeat-age metric."""

    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)  # Celery's node name
    queues: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataSnapshot(Base):
    """A benchmark's ranked results and per-example scores as Parquet files, kept by date, with the
    manifest that describes them (rows, sha256, scoring version, time)."""

    __tablename__ = "data_snapshot"
    __table_args__ = (UniqueConstraint("benchmark", "snapshot_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    benchmark: Mapped[str] = mapped_column(String(50))
    snapshot_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC)
    scoring_version: Mapped[str] = mapped_column(String(50))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="schedule")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
