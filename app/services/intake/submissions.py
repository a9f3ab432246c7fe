"""Submissions: accept one (checks, record, send to the broker after the commit), and describe the queue.

A submission is recorded and committed first, then its id is sent to the broker. When the broker is down the
submission stays queued with ``enqueued_at`` unset and the reconciler sends it later, so nothing accepted is
lost. Sending is guarded by a conditional update, so two dispatchers never both send one submission.
An optional webhook is checked with the other checks (its addresses must be public) and stored with its
secret, which is returned once, when it was generated (``SubmitOutcome.webhook_secret``).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Submission, SubmissionStatus
from app.db.repositories import intake
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.services.intake.client_limits import Submitter
from app.services.intake.endpoint_judges import claim_api_model
from app.services.intake.hub import HubClient
from app.services.intake.hub_gate import Deadline, HubBusyError
from app.services.intake.queues import Route, route
from app.services.intake.run_spec import RunConfig
from app.services.intake.validation import (
    Check,
    SubmissionRequest,
    ValidationReport,
    check_duplicate,
    check_limits,
    namespace_of,
    validate,
)
from app.services.operations.notifications import new_secret
from app.services.operations.webhook_urls import WebhookUrlError, check_webhook_url, host_of
from app.services.presentation.parameters import record_sizes
from app.services.presentation.series import record_iteration
from worker.engine.benchmarks import BENCHMARKS
from worker.engine.kinds import KINDS

log = logging.getLogger(__name__)

DEFAULT_RUN_SECONDS = 15 * 60  # a classifier run, used for estimates until a run has finished here
# send(submission id, where and for how long it runs)
Send = Callable[[int, Route], None]


class SubmissionRejected(Exception):
    """A check failed; ``report`` has every check that ran, ``status_code`` the HTTP answer."""

    def __init__(self, report: ValidationReport) -> None:
        failure = report.first_failure()
        assert failure is not None
        super().__init__(failure.message)
        self.report = report
        self.message = failure.message
        self.status_code = failure.http_status


@dataclass(frozen=True, slots=True)
class SubmissionView:
    id: int
    model: str
    requested_revision: str
    commit: str | None
    model_type: str
    model_type_label: str
    chat_template: str
    settings: dict[str, Any]
    iteration_of: str | None
    queue: str | None
    benchmark: str
    benchmark_label: str
    extra_parts: list[str]
    max_length: int | None  # None: a judge's own context
    partial: bool
    status: str
    failure_kind: str | None
    failure_message: str | None
    progress_done: int
    progress_total: int
    progress_subset: str | None
    attempt: int
    has_chat_template: bool | None
    sent_to_worker: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queue_position: int | None
    eta_seconds: int | None
    webhook_host: str | None = None  # where the outcome is POSTed (the host only: a path may hold a token)

    @property
    def url(self) -> str:
        return f"/submissions/{self.id}"

    @property
    def model_url(self) -> str:
        return f"/models/{self.model}"

    @property
    def active(self) -> bool:
        return self.status in {status.value for status in (*repo.QUEUE_STATUSES, SubmissionStatus.RUNNING)}


@dataclass(frozen=True, slots=True)
class QueueOverview:
    running: list[SubmissionView]
    waiting: list[SubmissionView]
    recent: list[SubmissionView]
    typical_run_seconds: int
    estimate_is_default: bool


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    submission: SubmissionView
    sent_to_worker: bool
    webhook_secret: str | None = None  # generated here: shown to the submitter once, never again


def check_submission(
    factory: sessionmaker[Session],
    settings: Settings,
    hub: HubClient,
    request: SubmissionRequest,
    *,
    submitter: Submitter | None = None,
    deadline: Deadline | None = None,
) -> ValidationReport:
    """The dry run: every check that can run, nothing recorded."""
    report = validate(
        factory, settings, hub, request, stop_at_first=False, submitter=submitter, deadline=deadline
    )
    webhook = webhook_check(request, settings)
    if webhook is not None:
        report.checks.append(webhook)
    return report


def webhook_check(request: SubmissionRequest, settings: Settings) -> Check | None:
    """The webhook's addresses, resolved now: every one must be public (blocks on DNS: run off the loop)."""
    if request.webhook_url is None:
        return None
    try:
        target = check_webhook_url(request.webhook_url, allow_private=settings.webhook_allow_private)
    except WebhookUrlError as error:
        return Check("webhook", False, str(error))
    return Check("webhook", True, f"The outcome will be sent to {target.host}.")


def submit(
    factory: sessionmaker[Session],
    settings: Settings,
    hub: HubClient,
    request: SubmissionRequest,
    send: Send,
    *,
    submitter: Submitter | None = None,
    deadline: Deadline | None = None,
) -> SubmitOutcome:
    """Check, record (commit), then send to the broker. Raises SubmissionRejected when a check fails.

    The checks hold no database connection while they ask the Hub; the limits and the duplicate check are
    then run again and the submission recorded in one transaction under the limit locks, so concurrent
    submissions can neither pass a limit together nor both record one model and commit.
    """
    webhook = webhook_check(request, settings)
    if webhook is not None and not webhook.ok:  # before any Hub request
        raise SubmissionRejected(ValidationReport(request=request, checks=[webhook]))
    report = validate(
        factory, settings, hub, request, stop_at_first=True, submitter=submitter, deadline=deadline
    )
    if not report.ok:
        raise SubmissionRejected(report)
    if deadline is not None and deadline.passed():
        # The request has stopped waiting for this answer: record nothing it was not told about.
        raise HubBusyError("The Hub answered too late; nothing was recorded. Please submit again.", 30)
    secret = None
    if request.webhook_url is not None and request.webhook_secret is None:
        secret = new_secret()
    submission_id = _record(factory, settings, report, submitter, webhook_secret=secret)
    sent = dispatch(factory, send, submission_id, settings)
    with unit_of_work(factory) as session:
        view = describe(session, submission_id)
    assert view is not None
    return SubmitOutcome(submission=view, sent_to_worker=sent, webhook_secret=secret)


def _record(
    factory: sessionmaker[Session],
    settings: Settings,
    report: ValidationReport,
    submitter: Submitter | None,
    *,
    webhook_secret: str | None = None,
) -> int:
    """Re-check the limits and duplicates under the limit locks and insert, in one unit of work."""
    model, request = report.model, report.request
    assert model is not None and report.run_config is not None
    namespace = namespace_of(model.repo_id)
    keys = (f"namespace:{namespace.lower()}", *(submitter.limit_keys() if submitter else ()))
    with unit_of_work(factory) as session:
        intake.lock_limit_keys(session, keys)  # first: every count below is current until the commit
        now = datetime.now(UTC)
        for recheck in (
            check_limits(session, settings, report, namespace=namespace, submitter=submitter, now=now),
            check_duplicate(session, report),
        ):
            if not recheck.ok:
                report.checks = [recheck if check.name == recheck.name else check for check in report.checks]
                raise SubmissionRejected(report)
        reward_model = repo.lock_reward_model(
            session, hub_id=intake.stored_hub_id(session, model.repo_id) or model.repo_id
        )
        if report.endpoint is not None:  # a judge on an endpoint: a model without a Hub repository
            refusal = claim_api_model(session, reward_model, report.endpoint)
            if refusal is not None:
                report.checks = [refusal if check.name == refusal.name else check for check in report.checks]
                raise SubmissionRejected(report)
        config = report.metadata.config if report.metadata else None
        record_sizes(reward_model, report.parameter_count, config)
        if request.iteration_of is not None:
            verdict = record_iteration(session, reward_model, request.iteration_of)
            if not verdict.ok:  # another submission linked the models since the checks ran
                report.checks = [
                    Check("iteration_of", False, verdict.message) if check.name == "iteration_of" else check
                    for check in report.checks
                ]
                raise SubmissionRejected(report)
        submission = repo.add_submission(
            session,
            repo.NewSubmission(
                reward_model_id=reward_model.id,
                requested_revision=request.revision,
                resolved_commit=model.sha,
                model_type=request.model_type,
                benchmark=request.benchmark,
                run_config=report.run_config.model_dump(mode="json"),
                config_key=report.run_config.key(),
                has_chat_template=report.has_chat_template,
                submitter=submitter.user if submitter else None,
                client_address=submitter.address if submitter else None,
                queue=report.queue,
                memory_bytes=report.memory_bytes,
                iteration_of=report.iteration_of,
            ),
        )
        if request.webhook_url is not None:
            submission.webhook_url = request.webhook_url
            submission.webhook_secret = request.webhook_secret or webhook_secret
        return submission.id


def dispatch(factory: sessionmaker[Session], send: Send, submission_id: int, settings: Settings) -> bool:
    """Send a committed, queued submission to the broker once, to its queue with its kind's time limits;
    on failure leave it for the reconciler."""
    marked_at = datetime.now(UTC)
    with unit_of_work(factory) as session:
        if not repo.mark_enqueued(session, submission_id, now=marked_at):
            return False
        submission = repo.get_submission(session, submission_id)
        assert submission is not None
        destination = route(RunConfig.model_validate(submission.run_config), submission.queue, settings)
    try:
        send(submission_id, destination)
    except Exception as error:
        log.warning(
            "submission %s not sent to the broker (%s); the reconciler will retry", submission_id, error
        )
        with unit_of_work(factory) as session:
            repo.unmark_enqueued(session, submission_id, marked_at=marked_at)
        return False
    return True


def describe(session: Session, submission_id: int) -> SubmissionView | None:
    submission = repo.get_submission(session, submission_id)
    if submission is None:
        return None
    estimator = _Estimator(session)
    return estimator.view(submission)


def list_submissions(
    session: Session, *, status: SubmissionStatus | None = None, limit: int = 50
) -> list[SubmissionView]:
    estimator = _Estimator(session)
    rows = repo.list_submissions(session, statuses=[status] if status else None, limit=limit)
    return [estimator.view(row) for row in rows]


def queue_overview(session: Session, *, recent: int = 20) -> QueueOverview:
    estimator = _Estimator(session)
    waiting_rows = repo.list_submissions(session, statuses=repo.QUEUE_STATUSES, limit=500)
    finished = repo.list_submissions(
        session,
        statuses=(SubmissionStatus.SUCCEEDED, SubmissionStatus.FAILED, SubmissionStatus.CANCELLED),
        limit=recent,
    )
    waiting = sorted((estimator.view(row) for row in waiting_rows), key=lambda view: view.queue_position or 0)
    return QueueOverview(
        running=[estimator.view(row) for row in estimator.running],
        waiting=waiting,
        recent=[estimator.view(row) for row in finished],
        typical_run_seconds=estimator.typical,
        estimate_is_default=estimator.is_default,
    )


class _Estimator:
    """Queue positions and ETAs, assuming one worker. A run is expected to last the median of recent runs,
    each counted in classifier-equivalent seconds (its duration over its kind's time factor), times its own
    kind's factor: a judge waits behind a judge far longer than behind a classifier."""

    def __init__(self, session: Session) -> None:
        durations = [
            seconds / _factor(run_config) for seconds, run_config in repo.recent_run_durations(session)
        ]
        self.is_default = not durations
        self.typical = int(statistics.median(durations)) if durations else DEFAULT_RUN_SECONDS
        self.typical = max(self.typical, 1)
        queued = repo.queue_order(session)
        self.order = {submission_id: index for index, submission_id in enumerate(queued)}
        self.running = repo.running(session)
        self.now = datetime.now(UTC)
        self.running_left = sum(self._remaining(row) for row in self.running)
        self.queued_rows = {row.id: row for row in repo.queued_configs(session)}
        self.ahead: dict[int, int] = {}
        total = 0
        for submission_id in queued:
            self.ahead[submission_id] = total
            row = self.queued_rows.get(submission_id)
            total += self._expected(row.run_config if row is not None else {})

    def _expected(self, run_config: dict[str, Any]) -> int:
        return max(int(self.typical * _factor(run_config)), 1)

    def _remaining(self, submission: Submission) -> int:
        if submission.progress_total and submission.progress_done and submission.started_at is not None:
            # From this run's own pace: the time per example so far, times the examples left.
            elapsed = max((self.now - _aware(submission.started_at)).total_seconds(), 0.0)
            left = submission.progress_total - submission.progress_done
            return int(elapsed / submission.progress_done * left)
        expected = self._expected(submission.run_config)
        if submission.progress_total:
            fraction = submission.progress_done / submission.progress_total
            return int(expected * (1 - fraction))
        if submission.started_at is not None:
            elapsed = (self.now - _aware(submission.started_at)).total_seconds()
            return max(int(expected - elapsed), 0)
        return expected

    def view(self, submission: Submission) -> SubmissionView:
        position: int | None = None
        eta: int | None = None
        if submission.id in self.order:
            position = self.order[submission.id] + 1
            eta = self.running_left + self.ahead.get(submission.id, 0) + self._expected(submission.run_config)
        elif submission.status == SubmissionStatus.RUNNING:
            eta = self._remaining(submission)
        config = RunConfig.model_validate(submission.run_config)
        return SubmissionView(
            id=submission.id,
            model=submission.reward_model.hub_id,
            requested_revision=submission.requested_revision,
            commit=submission.resolved_commit,
            model_type=submission.model_type,
            model_type_label=_kind_label(submission.model_type),
            chat_template=str(config.kind_settings.get("chat_template", "")),
            settings=dict(config.kind_settings),
            iteration_of=submission.iteration_of,
            queue=submission.queue,
            benchmark=submission.benchmark,
            benchmark_label=_benchmark_label(submission.benchmark),
            extra_parts=list(config.extra_parts),
            max_length=config.max_length,
            partial=config.partial,
            status=submission.status.value,
            failure_kind=submission.failure_kind,
            failure_message=submission.failure_message,
            progress_done=submission.progress_done,
            progress_total=submission.progress_total,
            progress_subset=submission.progress_subset,
            attempt=submission.attempt,
            has_chat_template=submission.has_chat_template,
            sent_to_worker=submission.enqueued_at is not None,
            created_at=_aware(submission.created_at),
            started_at=_aware(submission.started_at) if submission.started_at else None,
            finished_at=_aware(submission.finished_at) if submission.finished_at else None,
            queue_position=position,
            eta_seconds=eta,
            webhook_host=host_of(submission.webhook_url),
        )


def _factor(run_config: dict[str, Any]) -> float:
    """The kind's time factor of a stored run configuration (1 when it cannot be read)."""
    try:
        return max(RunConfig.model_validate(run_config).time_factor(), 1e-3)
    except Exception:  # a configuration from an older version of the settings: count it as a classifier
        return 1.0


def _kind_label(key: str) -> str:
    kind = KINDS.get(key)
    return kind.label if kind else key


def _benchmark_label(benchmark_id: str) -> str:
    definition = BENCHMARKS.get(benchmark_id)
    return definition.label if definition else benchmark_id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_duration(seconds: int | None) -> str:
    """An estimate in words: "about 12 minutes"."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return "about a minute" if seconds >= 30 else "less than a minute"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    if seconds < 36 * 3600:
        return f"about {round(seconds / 3600, 1):g} hours"
    return f"about {round(seconds / 86400, 1):g} days"
