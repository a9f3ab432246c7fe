"""The submission checks. Each check has a name, a verdict and a sentence the submitter can act on.

``validate()`` runs them in order. A check whose inputs come from a failed check is reported as skipped.
With ``stop_at_first`` (a real submission) nothing runs after the first failure; without it (the dry run)
every check that can run does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repositories import intake as repo
from app.db.session import unit_of_work
from app.http.request_guard import clean_text
from app.services.client_limits import Submitter
from app.services.hub import HubClient, HubError, HubModel, HubUnreachableError, read_json
from app.services.hub_gate import Deadline
from app.services.run_spec import RunConfig
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK, get_benchmark

SUPPORTED_MODEL_TYPES = ("classifier",)
NOT_YET_SUPPORTED = {
    "dpo": "DPO models are not evaluated yet; only sequence classifiers (model type 'classifier') can be "
    "submitted for now.",
    "generative": "Generative judges are not evaluated yet; only sequence classifiers "
    "(model type 'classifier') can be submitted for now.",
}


HUB_RETRY_AFTER_S = 30


def _printable(value: str | None) -> str | None:
    if value is not None and not clean_text(value):
        raise ValueError("must not contain control characters")
    return value


PrintableText = Annotated[str, AfterValidator(_printable)]


class SubmissionRequest(BaseModel):
    """What a submitter asks for."""

    model_config = ConfigDict(extra="forbid")

    model: PrintableText = Field(min_length=1, max_length=200, description="Hub model id, e.g. org/name")
    revision: str = Field(
        default="main",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._/\-]+$",
        description="branch, tag or sha",
    )
    model_type: Literal["classifier", "dpo", "generative"] = "classifier"
    reference_model: PrintableText | None = Field(
        default=None, max_length=200, description="DPO reference model"
    )
    chat_template: Literal["auto", "tulu"] = "auto"
    benchmark: str = Field(
        default=DEFAULT_BENCHMARK, max_length=50, description=f"one of {', '.join(BENCHMARKS)}"
    )
    extra_parts: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="optional data parts of the benchmark to evaluate too, e.g. prior-sets (RewardBench v1)",
    )

    @field_validator("benchmark")
    @classmethod
    def _known_benchmark(cls, value: str) -> str:
        if value not in BENCHMARKS:
            raise ValueError(f"unknown benchmark; choose one of {', '.join(BENCHMARKS)}")
        return value

    @model_validator(mode="after")
    def _known_parts(self) -> SubmissionRequest:
        optional = [part.name for part in get_benchmark(self.benchmark).parts if part.optional]
        unknown = [name for name in self.extra_parts if name not in optional]
        if unknown:
            choices = ", ".join(optional) or "none"
            raise ValueError(
                f"unknown data part {unknown[0]!r} of {self.benchmark}; optional parts: {choices}"
            )
        self.extra_parts = sorted(set(self.extra_parts))
        return self


@dataclass(slots=True)
class Check:
    name: str
    ok: bool
    message: str
    skipped: bool = False
    http_status: int = 422


@dataclass(slots=True)
class ValidationReport:
    request: SubmissionRequest
    checks: list[Check] = field(default_factory=list)
    model: HubModel | None = None
    metadata_dir: Path | None = None
    parameter_count: int | None = None
    has_chat_template: bool | None = None
    duplicate_of: int | None = None
    retry_after_s: int | None = None
    run_config: RunConfig | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def first_failure(self) -> Check | None:
        return next((check for check in self.checks if not check.ok), None)

    def passed(self, name: str) -> bool:
        return any(check.name == name and check.ok for check in self.checks)


def run_config(request: SubmissionRequest, settings: Settings) -> RunConfig:
    """Every setting that changes the result of this submission, fixed now (see ``app.services.run_spec``)."""
    kind_settings: dict[str, object] = {"chat_template": request.chat_template}
    if request.reference_model:
        kind_settings["reference_model"] = request.reference_model
    return RunConfig(
        benchmark=request.benchmark,
        model_type=request.model_type,
        kind_settings=kind_settings,
        max_length=settings.eval_max_length,
        dataset=settings.dataset_for(request.benchmark),
        limit_per_subset=settings.eval_limit_per_subset,
        extra_parts=list(request.extra_parts),
    )


def namespace_of(repo_id: str) -> str:
    return repo_id.split("/", 1)[0]


class _Validator:
    """Runs the checks; each one that reads the database opens its own short unit of work, and none is
    open while the Hub is asked anything."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        hub: HubClient,
        request: SubmissionRequest,
        now: datetime,
        submitter: Submitter | None,
        deadline: Deadline | None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.hub = hub
        self.now = now
        self.submitter = submitter
        self.deadline = deadline
        self.report = ValidationReport(request=request)
        self.report.run_config = run_config(request, settings)

    def _hub_timeout(self) -> float:
        """Seconds the next Hub request may take: the client's timeout, cut to what the deadline leaves."""
        if self.deadline is None:
            return self.hub.timeout
        remaining = self.deadline.remaining()
        if remaining <= 0.5:
            raise HubUnreachableError("The Hub is answering too slowly right now; please try again later.")
        return min(self.hub.timeout, remaining)

    def _hub_failure(self, name: str, error: HubError, prefix: str = "") -> Check:
        if isinstance(error, HubUnreachableError):
            self.report.retry_after_s = HUB_RETRY_AFTER_S
            return Check(name, False, prefix + error.message, http_status=503)
        return Check(name, False, prefix + error.message, http_status=422)

    @property
    def request(self) -> SubmissionRequest:
        return self.report.request

    def run(self, *, stop_at_first: bool) -> ValidationReport:
        plan: list[tuple[str, tuple[str, ...], Callable[[], Check]]] = [
            ("repo_id", (), self.check_repo_id),
            ("model_type", (), self.check_model_type),
            ("opt_out", ("repo_id",), self.check_opt_out),
            ("rate_limit", ("repo_id",), self.check_rate_limit),
            ("hub_model", ("repo_id",), self.check_hub_model),
            ("duplicate", ("hub_model",), self.check_duplicate),
            ("safetensors", ("hub_model",), self.check_safetensors),
            ("parameters", ("safetensors",), self.check_parameters),
            ("config", ("hub_model",), self.check_config),
            ("architecture", ("config", "model_type"), self.check_architecture),
            ("tokenizer", ("config",), self.check_tokenizer),
        ]
        for name, needs, check in plan:
            missing = [need for need in needs if not self.report.passed(need)]
            if missing:
                reason = f"Not checked: needs the '{missing[0]}' check to pass first."
                self.report.checks.append(Check(name, False, reason, skipped=True))
                continue
            result = check()
            self.report.checks.append(result)
            if stop_at_first and not result.ok:
                break
        return self.report

    def check_repo_id(self) -> Check:
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        model = self.request.model
        try:
            validate_repo_id(model)
        except HFValidationError as error:
            return Check("repo_id", False, f"{model!r} is not a valid Hub model id: {error}")
        if "/" not in model:
            return Check("repo_id", False, f"Give the full model id with its namespace, e.g. 'org/{model}'.")
        return Check("repo_id", True, f"{model} is a valid Hub model id.")

    def check_model_type(self) -> Check:
        kind = self.request.model_type
        if kind not in SUPPORTED_MODEL_TYPES:
            return Check("model_type", False, NOT_YET_SUPPORTED.get(kind, f"Unknown model type {kind!r}."))
        if self.request.reference_model:
            return Check(
                "model_type",
                False,
                "A reference model is only used for DPO models; leave it empty for a classifier.",
            )
        return Check("model_type", True, "Sequence classifier: one scalar reward per conversation.")

    def check_opt_out(self) -> Check:
        namespace = namespace_of(self.request.model)
        opted_out = {entry.strip().lower() for entry in self.settings.opt_out_namespaces}
        if namespace.lower() in opted_out or self.request.model.lower() in opted_out:
            return Check(
                "opt_out",
                False,
                f"The authors of {namespace} asked that their models not be evaluated here.",
                http_status=403,
            )
        return Check("opt_out", True, f"{namespace} has not opted out.")

    def check_rate_limit(self) -> Check:
        with unit_of_work(self.factory) as session:
            return check_limits(
                session, self.settings, self.report, namespace=namespace_of(self.request.model),
                submitter=self.submitter, now=self.now,
            )  # fmt: skip

    def check_hub_model(self) -> Check:
        try:
            timeout = self._hub_timeout()
            model = self.hub.model_info(self.request.model, self.request.revision, timeout=timeout)
        except HubError as error:
            return self._hub_failure("hub_model", error)
        if model.gated:
            return Check(
                "hub_model",
                False,
                f"{model.repo_id} is gated; the evaluation workers cannot accept its terms. "
                "Submit an ungated copy.",
            )
        self.report.model = model
        return Check(
            "hub_model",
            True,
            f"Found {model.repo_id} at {self.request.revision}, pinned to commit {model.sha}.",
        )

    def check_duplicate(self) -> Check:
        with unit_of_work(self.factory) as session:
            return check_duplicate(session, self.report)

    def check_safetensors(self) -> Check:
        model = self.report.model
        assert model is not None
        if model.has_safetensors():
            return Check("safetensors", True, "Weights are stored as safetensors.")
        pickles = model.pickle_files()
        if pickles:
            return Check(
                "safetensors",
                False,
                f"Only pickle weights were found ({', '.join(pickles[:3])}); they can run code when loaded, "
                "so only "
                "safetensors weights are accepted. Convert the checkpoint to safetensors and submit again.",
            )
        return Check("safetensors", False, "No safetensors weights were found in the repository.")

    def check_parameters(self) -> Check:
        model = self.report.model
        assert model is not None
        count = model.parameter_count
        if count is None:
            try:
                count = self.hub.safetensors_parameter_count(
                    model.repo_id, model.sha, timeout=self._hub_timeout()
                )
            except HubError as error:
                return self._hub_failure("parameters", error, "The parameter count could not be read: ")
        self.report.parameter_count = count
        limit = self.settings.max_parameters
        if count > limit:
            return Check(
                "parameters", False, f"The model has {count:,} parameters; the limit here is {limit:,}."
            )
        return Check("parameters", True, f"{count:,} parameters (limit {limit:,}).")

    def check_config(self) -> Check:
        model = self.report.model
        assert model is not None
        if "config.json" not in model.filenames:
            return Check(
                "config", False, "The repository has no config.json, so transformers cannot load it."
            )
        try:
            folder = self.hub.download_metadata(model, timeout=self._hub_timeout())
        except HubError as error:
            return self._hub_failure("config", error)
        self.report.metadata_dir = folder
        document = read_json(folder / "config.json")
        if "auto_map" in document:
            classes = ", ".join(sorted(str(value) for value in document["auto_map"].values())[:3])
            return Check(
                "config",
                False,
                f"The model needs custom code from its repository ({classes}); "
                "remote code is never run here.",
            )
        try:
            from transformers import AutoConfig

            AutoConfig.from_pretrained(folder, trust_remote_code=False)
        except Exception as error:
            return Check("config", False, f"transformers could not read config.json: {_first_line(error)}")
        return Check(
            "config",
            True,
            f"config.json loads without remote code (model_type {document.get('model_type')}).",
        )

    def check_architecture(self) -> Check:
        assert self.report.metadata_dir is not None
        document = read_json(self.report.metadata_dir / "config.json")
        architectures = [str(name) for name in document.get("architectures") or []]
        heads = [name for name in architectures if name.endswith("ForSequenceClassification")]
        if not heads:
            found = ", ".join(architectures) or "none listed"
            return Check(
                "architecture",
                False,
                "A classifier reward model needs a *ForSequenceClassification head; "
                f"config.json lists {found}.",
            )
        labels = _num_labels(document)
        if labels != 1:
            return Check(
                "architecture",
                False,
                f"{heads[0]} has {labels} labels; a reward model must output exactly one score "
                "(num_labels = 1).",
            )
        return Check("architecture", True, f"{heads[0]} with one output: a scalar reward.")

    def check_tokenizer(self) -> Check:
        folder = self.report.metadata_dir
        assert folder is not None
        if "auto_map" in read_json(folder / "tokenizer_config.json"):
            return Check(
                "tokenizer",
                False,
                "The tokenizer needs custom code from its repository; that is not run here.",
            )
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        except Exception as error:
            return Check("tokenizer", False, f"The tokenizer could not be loaded: {_first_line(error)}")
        has_template = bool(getattr(tokenizer, "chat_template", None))
        self.report.has_chat_template = has_template
        if has_template:
            return Check("tokenizer", True, "The tokenizer loads and has a chat template.")
        return Check(
            "tokenizer", True, "The tokenizer loads; it has no chat template, so the Tulu template is used."
        )


def validate(
    factory: sessionmaker[Session],
    settings: Settings,
    hub: HubClient,
    request: SubmissionRequest,
    *,
    stop_at_first: bool,
    now: datetime | None = None,
    submitter: Submitter | None = None,
    deadline: Deadline | None = None,
) -> ValidationReport:
    """Run the submission checks for ``request``; see the module docstring."""
    validator = _Validator(factory, settings, hub, request, now or datetime.now(UTC), submitter, deadline)
    return validator.run(stop_at_first=stop_at_first)


def check_limits(
    session: Session,
    settings: Settings,
    report: ValidationReport,
    *,
    namespace: str,
    submitter: Submitter | None,
    now: datetime,
) -> Check:
    """The namespace quota (any casing of the namespace) and, for a known client, its own quota."""
    window = timedelta(days=settings.rate_limit_days)
    count, oldest = repo.recent_for_namespace(session, namespace=namespace, since=now - window)
    limit = settings.rate_limit_count
    if count >= limit:
        report.retry_after_s = _wait_until_free(oldest, window, now)
        return Check(
            "rate_limit",
            False,
            f"{namespace} has made {count} submissions in the last {settings.rate_limit_days} days "
            f"(the limit is {limit}). Try again in {_human_duration(report.retry_after_s)}.",
            http_status=429,
        )
    message = f"{namespace} has used {count} of {limit} submissions this week."
    if submitter is not None:
        client_window = timedelta(seconds=settings.client_submission_window_s)
        mine, my_oldest = repo.recent_for_client(
            session, address=submitter.address, user=submitter.user, since=now - client_window
        )
        client_limit = settings.client_submission_limit
        if mine >= client_limit:
            report.retry_after_s = _wait_until_free(my_oldest, client_window, now)
            return Check(
                "rate_limit",
                False,
                f"You have made {mine} submissions in the last "
                f"{_human_duration(settings.client_submission_window_s)} (the limit is {client_limit}). "
                f"Try again in {_human_duration(report.retry_after_s)}.",
                http_status=429,
            )
    return Check("rate_limit", True, message)


def _wait_until_free(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    oldest_at = _aware(oldest) if oldest is not None else now
    return max(math.ceil((oldest_at + window - now).total_seconds()), 1)


def check_duplicate(session: Session, report: ValidationReport) -> Check:
    """Same model (any casing), commit and configuration already queued, running or succeeded: refuse."""
    assert report.model is not None
    assert report.run_config is not None
    existing = repo.find_duplicate(
        session, hub_id=report.model.repo_id, commit=report.model.sha, config_key=report.run_config.key()
    )
    if existing is None:
        return Check(
            "duplicate", True, "This model, commit and configuration have not been submitted before."
        )
    report.duplicate_of = existing.id
    return Check(
        "duplicate",
        False,
        f"This model, commit and configuration were already submitted and are {existing.status.value}: "
        f"see /submissions/{existing.id}.",
        http_status=409,
    )


def _num_labels(config: dict[str, object]) -> int:
    if isinstance(config.get("num_labels"), int):
        return int(config["num_labels"])  # type: ignore[call-overload]
    id2label = config.get("id2label")
    if isinstance(id2label, dict):
        return len(id2label)
    return 2  # transformers' default


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _human_duration(seconds: int) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    if seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
