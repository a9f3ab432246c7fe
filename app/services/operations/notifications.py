"""Webhook notifications of a submission's outcome: queued in the transaction of the change, sent after it.

``queue_delivery(session, submission_id, event)`` adds one pending delivery (once per submission and
event) when the submission has a webhook; the caller sends the returned id to the worker after its commit
(``send_after_commit``), and the reconciler sends whatever is due and was not sent, so a lost message or
a restart loses nothing. ``deliver`` makes one try: it claims the row (two senders never send one row at
once, a delivered row is never sent again), checks the URL's addresses again (``webhook_urls``), POSTs the
signed body to the checked address with no database connection held, and stores the outcome: delivered
on a 2xx; retried after ``WEBHOOK_RETRY_DELAYS_S`` on a network error, a 408, 429 or 5xx; failed, with the
reason in words, on any other answer, an address that is not public, or after ``WEBHOOK_MAX_ATTEMPTS``.

The body is JSON; ``X-RewardBoard-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body with the
submission's webhook secret (GitHub's scheme). The body carries ``timestamp`` (Unix seconds of this try,
also in ``X-RewardBoard-Timestamp``) and ``delivery_id`` (also ``X-RewardBoard-Delivery``, the same on every
try): a receiver checks the signature, refuses a timestamp older than a few minutes and a delivery id it
has seen, which stops replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import DeliveryStatus, EvaluationResult, Submission
from app.db.repositories import results as results_repo
from app.db.repositories import webhooks as repo
from app.db.session import unit_of_work
from app.services.operations.webhook_urls import (
    Resolver,
    WebhookTarget,
    WebhookUnresolvedError,
    WebhookUrlError,
    check_webhook_url,
)
from app.templating import model_path

log = logging.getLogger(__name__)

# event -> what it says of the submission
EVENTS: dict[str, str] = {
    "finished": "the evaluation finished",
    "failed": "the evaluation failed",
    "flagged": "a maintainer flagged the result",
    "hidden": "a maintainer hid the result",
    "superseded": "the result was superseded by a newer one",
}
SIGNATURE_HEADER = "X-RewardBoard-Signature"
EVENT_HEADER = "X-RewardBoard-Event"
DELIVERY_HEADER = "X-RewardBoard-Delivery"
TIMESTAMP_HEADER = "X-RewardBoard-Timestamp"
USER_AGENT = "RewardBoard-Webhook/1"
SECRET_BYTES = 32
_RETRIED_STATUSES = frozenset({408, 429})

# Send one delivery id to a worker (after the commit that queued it); raises when the broker is down.
Notify = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: str  # delivered, retrying, failed, skipped (not due, already done, or another try holds it)
    retry_in_s: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    event: str
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: compare in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def queue_delivery(
    session: Session,
    submission_id: int,
    event: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Queue one webhook delivery of ``event`` (one of ``EVENTS``) in the caller's transaction.

    Returns the new delivery's id, to send after the commit (``send_after_commit``); None when the
    submission has no webhook, does not exist, or already has a delivery of this event (idempotent).
    ``reason`` is a maintainer's public reason (flagged, hidden, superseded); for a failed run the body
    carries the submission's failure message.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    submission = repo.submission_with_model(session, submission_id)
    if submission is None or not submission.webhook_url:
        return None
    moment = now or datetime.now(UTC)
    result = results_repo.result_by_submission(session, submission_id)
    payload = _payload(submission, result, event, reason=reason, at=moment)
    return repo.insert_delivery(
        session, submission_id=submission_id, event=event, payload=payload, now=moment
    )


def queue_for_result(
    session: Session, result: EvaluationResult, event: str, *, reason: str | None = None
) -> int | None:
    """``queue_delivery`` for the submission that made ``result`` (None for an imported result)."""
    if result.submission_id is None:
        return None
    return queue_delivery(session, result.submission_id, event, reason=reason)


def send_after_commit(notify: Notify | None, delivery_ids: Iterable[int | None]) -> None:
    """Send committed deliveries to a worker; one the broker does not take is sent by the reconciler."""
    if notify is None:
        return
    for delivery_id in delivery_ids:
        if delivery_id is None:
            continue
        try:
            notify(delivery_id)
        except Exception as error:
            log.warning("webhook delivery %s not sent (%s); the reconciler will send it", delivery_id, error)


def _payload(
    submission: Submission, result: EvaluationResult | None, event: str, *, reason: str | None, at: datetime
) -> dict[str, Any]:
    model = submission.reward_model.hub_id
    return {
        "event": event,
        "description": EVENTS[event],
        "submission_id": submission.id,
        "submission_path": f"/submissions/{submission.id}",
        "model": model,
        "benchmark": submission.benchmark,
        "kind": submission.model_type,
        "status": submission.status.value,
        "score": result.score if result is not None else None,
        "result_id": result.id if result is not None else None,
        "result_path": f"/models/{model_path(model)}?result={result.id}" if result is not None else None,
        "failure_kind": submission.failure_kind if event == "failed" else None,
        "failure_reason": submission.failure_message if event == "failed" else None,
        "reason": reason,
        "time": at.isoformat(),
    }


def body_of(
    payload: dict[str, Any], *, delivery_id: int, attempt: int, at: datetime, public_url: str
) -> bytes:
    """The JSON sent: the stored payload with absolute links (when PUBLIC_URL is set), this try's
    delivery id, attempt and timestamp."""
    base = public_url.rstrip("/")
    body = {key: value for key, value in payload.items() if not key.endswith("_path")}
    body["submission_url"] = base + str(payload["submission_path"])
    body["result_url"] = base + str(payload["result_path"]) if payload.get("result_path") else None
    body["delivery_id"] = delivery_id
    body["attempt"] = attempt
    body["timestamp"] = int(at.timestamp())
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def deliver(
    factory: sessionmaker[Session],
    settings: Settings,
    delivery_id: int,
    *,
    now: datetime | None = None,
    resolve: Resolver | None = None,
) -> DeliveryOutcome:
    """One try of one delivery (safe to call twice: a delivered row or one another try holds is skipped)."""
    moment = now or datetime.now(UTC)
    hold = timedelta(seconds=settings.webhook_timeout_s * 3 + 30)
    with unit_of_work(factory) as session:
        claimed = repo.claim(session, delivery_id, now=moment, hold_until=moment + hold)
    if claimed is None:
        return DeliveryOutcome("skipped")
    if not claimed.webhook_url or not claimed.webhook_secret:
        return _finish(factory, settings, claimed, moment, retry=False, error="the submission has no webhook")
    try:
        target = check_webhook_url(
            claimed.webhook_url, allow_private=settings.webhook_allow_private, resolve=resolve
        )
    except WebhookUrlError as error:
        return _finish(
            factory,
            settings,
            claimed,
            moment,
            retry=isinstance(error, WebhookUnresolvedError),
            error=str(error),
        )
    body = body_of(
        claimed.payload,
        delivery_id=claimed.id,
        attempt=claimed.attempt,
        at=moment,
        public_url=settings.public_url,
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: claimed.event,
        DELIVERY_HEADER: str(claimed.id),
        TIMESTAMP_HEADER: str(int(moment.timestamp())),
        SIGNATURE_HEADER: sign(claimed.webhook_secret, body),
    }
    try:
        response_status = _post(target, body, headers, timeout_s=settings.webhook_timeout_s)
    except httpx.TimeoutException:
        silence = f"{target.host} did not answer within {settings.webhook_timeout_s:g} seconds"
        return _finish(factory, settings, claimed, moment, retry=True, error=silence)
    except httpx.TransportError as failure:
        problem = f"could not reach {target.host} ({_words(failure)})"
        return _finish(factory, settings, claimed, moment, retry=True, error=problem)
    if 200 <= response_status < 300:
        return _finish(factory, settings, claimed, moment, retry=False, response_status=response_status)
    answer = f"{target.host} answered {response_status} {_reason_phrase(response_status)}".rstrip()
    if 300 <= response_status < 400:
        answer += " (redirects are not followed)"
    retry = response_status in _RETRIED_STATUSES or response_status >= 500
    return _finish(
        factory, settings, claimed, moment, retry=retry, error=answer, response_status=response_status
    )


def _post(target: WebhookTarget, body: bytes, headers: dict[str, str], *, timeout_s: float) -> int:
    """POST to the checked addresses in turn (the next only when one refuses the connection), keeping the
    original host in the Host header and as the TLS server name; no proxies, no redirects, the answer's body
    never read."""
    last_error: httpx.TransportError | None = None
    with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
        for address in target.addresses:
            url = httpx.URL(target.url).copy_with(host=str(address))
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = client.build_request(
                "POST",
                url,
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions=extensions,
            )
            try:
                # Streamed and closed unread: only the status matters, and a receiver cannot make us hold
                # a large answer in memory.
                response = client.send(request, stream=True)
            except httpx.ConnectError as error:
                last_error = error
                continue
            response.close()
            return response.status_code
    assert last_error is not None
    raise last_error


def _finish(
    factory: sessionmaker[Session],
    settings: Settings,
    claimed: repo.ClaimedDelivery,
    moment: datetime,
    *,
    retry: bool,
    error: str | None = None,
    response_status: int | None = None,
) -> DeliveryOutcome:
    if error is None:
        status, next_at, outcome = DeliveryStatus.DELIVERED, None, DeliveryOutcome("delivered")
    elif retry and claimed.attempt < settings.webhook_max_attempts:
        delays = settings.webhook_retry_delays_s
        wait = delays[min(claimed.attempt, len(delays)) - 1]
        status, next_at = DeliveryStatus.PENDING, moment + timedelta(seconds=wait)
        tries = f"try {claimed.attempt} of {settings.webhook_max_attempts}"
        error = f"{error}; trying again in {_duration(wait)} ({tries})"
        outcome = DeliveryOutcome("retrying", retry_in_s=wait, error=error)
    else:
        if retry:
            error = f"{error}; gave up after {claimed.attempt} tries"
        status, next_at, outcome = DeliveryStatus.FAILED, None, DeliveryOutcome("failed", error=error)
    with unit_of_work(factory) as session:
        stored = repo.record_try(
            session,
            claimed.id,
            attempt=claimed.attempt,
            status=status,
            response_status=response_status,
            last_error=error,
            next_attempt_at=next_at,
            delivered_at=moment if status == DeliveryStatus.DELIVERED else None,
        )
    if not stored:
        log.warning("webhook delivery %s: try %s was overtaken; outcome dropped", claimed.id, claimed.attempt)
    if error is not None:
        log.info("webhook delivery %s (%s): %s", claimed.id, claimed.event, error)
    return outcome


def deliver_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    overdue_s: float = 0.0,
    limit: int = 10,
    resolve: Resolver | None = None,
) -> dict[int, DeliveryOutcome]:
    """Try every pending delivery due at least ``overdue_s`` ago (at most ``limit``): those whose message
    was lost or is waiting behind a long evaluation, and retries that are due."""
    moment = now or datetime.now(UTC)
    with unit_of_work(factory) as session:
        ids = repo.due(session, now=moment - timedelta(seconds=overdue_s), limit=limit)
    return {
        delivery_id: deliver(factory, settings, delivery_id, now=moment, resolve=resolve)
        for delivery_id in ids
    }


def deliveries(session: Session, submission_id: int) -> list[DeliveryView]:
    """A submission's webhook deliveries, oldest first."""
    return [
        DeliveryView(
            id=row.id,
            event=row.event,
            status=row.status.value,
            attempts=row.attempts,
            response_status=row.response_status,
            last_error=row.last_error,
            next_attempt_at=_aware(row.next_attempt_at) if row.status == DeliveryStatus.PENDING else None,
            delivered_at=_aware(row.delivered_at),
            created_at=_aware(row.created_at) or row.created_at,
        )
        for row in repo.for_submission(session, submission_id)
    ]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _words(error: Exception) -> str:
    text = str(error).strip()
    return text or type(error).__name__


def _reason_phrase(status: int) -> str:
    try:
        return httpx.codes.get_reason_phrase(status)
    except ValueError:
        return ""


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:g} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60):g} minutes"
    return f"{round(seconds / 3600, 1):g} hours"
