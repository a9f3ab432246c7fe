"""The submission checks. Each check has a name, a verdict and a sentence the submitter can act on.

``validate()`` runs them in order. A check whose inputs come from a failed check is reported as skipped.
With ``stop_at_first`` (a real submission) nothing runs after the first failure; without it (the dry run)
every check that can run does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repositories import intake as repo
from app.db.session import unit_of_work
from app.http.request_guard import clean_text
from app.schemas.query import BenchmarkId
from app.services.intake import queues
from app.services.intake.client_limits import Submitter
from app.services.intake.hub import HubClient, HubError, HubModel, HubUnreachableError, read_json
from app.services.intake.hub_gate import Deadline
from app.services.intake.model_ids import invalid_hub_id
from app.services.intake.run_spec import RunConfig
from app.services.operations import namespaces as namespace_policies
from app.services.operations.webhook_urls import MAX_URL_LENGTH, parse_webhook_url
from app.services.presentation.parameters import format_count
from app.services.presentation.series import check_iteration_of
from worker.engine.benchmarks import DEFAULT_BENCHMARK, get_benchmark
from worker.engine.judging.endpoints import Endpoint
from worker.engine.kinds import DEFAULT_KIND, KINDS, evaluable_kinds, get_kind
from worker.engine.model_kinds.base import (
    BYTES_PER_PARAMETER,
    KindCheck,
    KindSettings,
    KindSettingsError,
    ModelMetadata,
    RelatedModel,
    ResolvedModel,
    position_limit,
)

HUB_RETRY_AFTER_S = 30


def _printable(value: str | None) -> str | None:
    if value is not None and not clean_text(value):
        raise ValueError("must not contain control characters")
    return value


PrintableText = Annotated[str, AfterValidator(_printable)]


MIN_MAX_LENGTH: Final = 256
MAX_MAX_LENGTH: Final = 1_048_576


class SubmissionRequest(BaseModel):
    """What a submitter asks for. ``settings`` are the chosen model type's own (GET /api/v1/model-types)."""

    model_config = ConfigDict(extra="forbid")

    model: PrintableText = Field(min_length=1, max_length=200, description="Hub model id, e.g. org/name")
    revision: str = Field(
        default="main",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._/\-]+$",
        description="branch, tag or sha",
    )
    model_type: str = Field(
        default=DEFAULT_KIND, max_length=50, description=f"one of {', '.join(evaluable_kinds())}"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="the model type's settings, e.g. {'reference_model': 'org/sft'} for dpo or "
        "{'both_orders': true, 'seed': 0} for judge-pairwise; unknown names are refused",
    )
    benchmark: BenchmarkId = DEFAULT_BENCHMARK
    extra_parts: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="optional data parts of the benchmark to evaluate too, e.g. prior-sets (RewardBench v1)",
    )
    max_length: int | None = Field(
        default=None,
        ge=MIN_MAX_LENGTH,
        le=MAX_MAX_LENGTH,
        description="tokens a text keeps (classifiers, DPO) or a judge's prompt and answer may use; default: "
        "the benchmark's (2,048, as upstream) for classifiers and DPO, the model's context for judges; at "
        "most the model's position limit. Part of the run's identity: results at different lengths are kept "
        "apart",
    )
    iteration_of: PrintableText | None = Field(
        default=None,
        max_length=200,
        description="Hub id of the model this one was trained from (its previous iteration), already on "
        "this board: the two then belong to one series",
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="optional: an http(s) URL on a public internet address, POSTed a signed JSON body when "
        "the run finishes or fails and when its result is flagged, hidden or superseded",
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=100,
        pattern=r"^[!-~]+$",
        description="the key of the webhook body's HMAC-SHA256 signature (X-RewardBoard-Signature), 16 to "
        "100 printable characters without spaces; omitted: one is generated and returned once",
    )

    @field_validator("webhook_url")
    @classmethod
    def _webhook_form(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_webhook_url(value)  # its addresses are checked with the other checks (they need DNS)
        return value.strip()

    @model_validator(mode="after")
    def _secret_needs_url(self) -> SubmissionRequest:
        if self.webhook_secret is not None and self.webhook_url is None:
            raise ValueError("webhook_secret is given without a webhook_url")
        return self

    @field_validator("model_type")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown model type; choose one of {', '.join(evaluable_kinds())}")
        return value

    @field_validator("iteration_of")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

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

    @model_validator(mode="after")
    def _kind_settings(self) -> SubmissionRequest:
        kind = get_kind(self.model_type)
        try:
            parsed = kind.parse_settings(self.settings)
        except KindSettingsError as error:
            raise ValueError(error.message) from None
        self.settings = kind.describe_settings(parsed)  # defaults written out: one key per configuration
        return self

    def kind_settings(self) -> KindSettings:
        return get_kind(self.model_type).parse_settings(self.settings)


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
    metadata: ModelMetadata | None = None
    parameter_count: int | None = None
    has_chat_template: bool | None = None
    duplicate_of: int | None = None
    retry_after_s: int | None = None
    run_config: RunConfig | None = None
    related: dict[str, ResolvedModel] = field(default_factory=dict)
    memory_bytes: int | None = None
    queue: str | None = None
    iteration_of: str | None = None  # the predecessor as stored here
    endpoint: Endpoint | None = None  # a judge on an endpoint (endpoint_judges): the one checked

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def first_failure(self) -> Check | None:
        return next((check for check in self.checks if not check.ok), None)

    def passed(self, name: str) -> bool:
        return any(check.name == name and check.ok for check in self.checks)


def run_config(
    request: SubmissionRequest, settings: Settings, kind_settings: KindSettings | None = None
) -> RunConfig:
    """Every setting that changes the result of this submission, fixed now (``intake.run_spec``)."""
    kind = get_kind(request.model_type)
    chosen = kind_settings if kind_settings is not None else request.kind_settings()
    return RunConfig(
        benchmark=request.benchmark,
        model_type=request.model_type,
        kind_settings=kind.describe_settings(chosen),
        max_length=request.max_length or kind.default_max_length(settings.eval_max_length),
        dataset=settings.dataset_for(request.benchmark),
        limit_per_subset=settings.eval_limit_per_subset,
        extra_parts=list(request.extra_parts),
    )


def namespace_of(repo_id: str) -> str:
    return repo_id.split("/", 1)[0]


class _Validator:
    """Runs the checks; each one that reads the database opens its own short unit of work, and none is
    open while the Hub is asked anything. The model type's own checks come from its kind definition."""

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
        self.kind = get_kind(request.model_type)
        self.kind_settings = request.kind_settings()
        self.report.run_config = run_config(request, settings, self.kind_settings)

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
        roles = self.kind.related_roles
        related_names = tuple(f"{role}_model" for role in roles) + self.kind.related_check_names
        plan: list[tuple[tuple[str, ...], tuple[str, ...], Callable[[], list[Check]]]] = [
            (("repo_id",), (), self._one(self.check_repo_id)),
            (("model_type",), (), self._one(self.check_model_type)),
            (("iteration_of",), ("repo_id",), self._one(self.check_iteration_of)),
            (("opt_out",), ("repo_id",), self._one(self.check_opt_out)),
            (("rate_limit",), ("repo_id",), self._one(self.check_rate_limit)),
            (("hub_model",), ("repo_id",), self._one(self.check_hub_model)),
            (("safetensors",), ("hub_model",), self._one(self.check_safetensors)),
            (("parameters",), ("safetensors",), self._one(self.check_parameters)),
            (("config",), ("hub_model",), self._one(self.check_config)),
            (self.kind.model_check_names, ("config", "model_type"), self.check_kind_model),
            (related_names, ("config", "model_type"), self.check_related_models),
            (("duplicate",), ("hub_model", "model_type", *related_names), self._one(self.check_duplicate)),
            (
                ("memory",),
                ("parameters", "config", "model_type", *related_names),
                self._one(self.check_memory),
            ),
        ]
        if self.kind.runs_on_endpoint:  # no Hub repository: the endpoint's checks instead
            from app.services.intake.endpoint_judges import endpoint_plan

            plan = endpoint_plan(self)
        for names, needs, step in plan:
            if not names:
                continue
            missing = [need for need in needs if not self.report.passed(need)]
            if missing:
                reason = f"needs the '{missing[0]}' check to pass first"
                self.report.checks.extend(_not_checked(names, reason))
                continue
            results = step()
            self.report.checks.extend(results)
            if stop_at_first and not all(check.ok for check in results):
                break
        return self.report

    @staticmethod
    def _one(check: Callable[[], Check]) -> Callable[[], list[Check]]:
        return lambda: [check()]

    def check_repo_id(self) -> Check:
        model = self.request.model
        problem = invalid_hub_id(model)
        if problem is not None and "/" not in model and invalid_hub_id(f"org/{model}") is None:
            return Check("repo_id", False, f"Give the full model id with its namespace, e.g. 'org/{model}'.")
        if problem is not None:
            return Check("repo_id", False, f"{model!r} {problem}.")
        return Check("repo_id", True, f"{model} is a valid Hub model id.")

    def check_model_type(self) -> Check:
        kind = self.kind
        if not kind.evaluable:
            return Check(
                "model_type",
                False,
                f"{kind.label} results are imported from published files only; models of this type cannot "
                f"be submitted. Evaluable types: {', '.join(evaluable_kinds())}.",
            )
        settings = ", ".join(
            f"{key}={value}" for key, value in self.request.settings.items() if value is not None
        )
        return Check("model_type", True, f"{kind.label}: {kind.description} Settings: {settings or 'none'}.")

    def check_iteration_of(self) -> Check:
        predecessor = self.request.iteration_of
        if predecessor is None:
            return Check("iteration_of", True, "No predecessor named: the model starts no series.")
        with unit_of_work(self.factory) as session:
            verdict = check_iteration_of(session, self.request.model, predecessor)
        self.report.iteration_of = verdict.predecessor
        return Check("iteration_of", verdict.ok, verdict.message)

    def check_opt_out(self) -> Check:
        namespace = namespace_of(self.request.model)
        opted_out = {entry.strip().lower() for entry in self.settings.opt_out_namespaces}
        with unit_of_work(self.factory) as session:
            by_maintainers = namespace_policies.opted_out(session, namespace)
        if by_maintainers or namespace.lower() in opted_out or self.request.model.lower() in opted_out:
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
        return _safetensors_check("safetensors", model)

    def check_parameters(self) -> Check:
        model = self.report.model
        assert model is not None
        try:
            count = self._parameter_count(model)
        except HubError as error:
            return self._hub_failure("parameters", error, "The parameter count could not be read: ")
        self.report.parameter_count = count
        refusal = self._too_large(model.repo_id, count)
        if refusal is not None:
            return Check("parameters", False, refusal)
        limit = queues.max_parameters(self.settings)
        return Check("parameters", True, f"{count:,} parameters (limit {limit:,}).")

    def _too_large(self, repo_id: str, count: int) -> str | None:
        """Why a model of ``count`` parameters is refused here, in words; None when it is not."""
        limit = queues.max_parameters(self.settings)
        if count <= limit:
            return None
        if self.settings.max_parameters is not None:
            return f"{repo_id} has {format_count(count)} parameters ({count:,}); the limit here is {limit:,}."
        largest = queues.largest_class(self.settings)
        return (
            f"{repo_id} has {format_count(count)} parameters ({count:,}): its weights alone need "
            f"{queues.format_bytes(count * BYTES_PER_PARAMETER)} at 16 bits, more than the largest workers "
            f"here ({largest.label}, {queues.format_bytes(largest.total_bytes)} in all) hold."
        )

    def _parameter_count(self, model: HubModel) -> int:
        if model.parameter_count is not None:
            return model.parameter_count
        return self.hub.safetensors_parameter_count(model.repo_id, model.sha, timeout=self._hub_timeout())

    def check_config(self) -> Check:
        model = self.report.model
        assert model is not None
        try:
            folder, failure = self._config_folder("config", model)
        except HubError as error:
            return self._hub_failure("config", error)
        if failure is not None:
            return failure
        assert folder is not None
        self.report.metadata_dir = folder
        document = read_json(folder / "config.json")
        return Check(
            "config",
            True,
            f"config.json loads without remote code (model_type {document.get('model_type')}).",
        )

    def _config_folder(self, name: str, model: HubModel) -> tuple[Path | None, Check | None]:
        """The downloaded metadata folder, or a failed check: no config, remote code, unreadable config."""
        if "config.json" not in model.filenames:
            return None, Check(
                name, False, f"{model.repo_id} has no config.json, so transformers cannot load it."
            )
        folder = self.hub.download_metadata(model, timeout=self._hub_timeout())
        document = read_json(folder / "config.json")
        if "auto_map" in document:
            classes = ", ".join(sorted(str(value) for value in document["auto_map"].values())[:3])
            return None, Check(
                name,
                False,
                f"The model needs custom code from its repository ({classes}); "
                "remote code is never run here.",
            )
        try:
            from transformers import AutoConfig

            AutoConfig.from_pretrained(folder, trust_remote_code=False)
        except Exception as error:
            return None, Check(name, False, f"transformers could not read config.json: {_first_line(error)}")
        return folder, None

    def _metadata(self, model: HubModel, folder: Path, *, card: bool) -> ModelMetadata:
        tokenizer, error = _load_tokenizer(folder)
        card_data: dict[str, Any] | None = None
        if card:
            card_data = self.hub.card_metadata(model, timeout=self._hub_timeout())
        return ModelMetadata(
            repo_id=model.repo_id,
            config=read_json(folder / "config.json"),
            tokenizer=tokenizer,
            card=card_data,
            parameter_count=model.parameter_count,
            tokenizer_error=error,
        )

    def check_kind_model(self) -> list[Check]:
        """The model type's checks over the model's metadata (its head, its tokenizer and template)."""
        model, folder = self.report.model, self.report.metadata_dir
        assert model is not None and folder is not None
        try:
            metadata = self._metadata(model, folder, card=self.kind.needs_card(self.kind_settings))
        except HubError as error:
            first, *rest = self.kind.model_check_names
            failure = self._hub_failure(first, error, "The model card: ")
            return [failure, *_not_checked(rest, "the model card could not be read")]
        if self.report.parameter_count is not None:
            metadata = replace(metadata, parameter_count=self.report.parameter_count)
        self.report.metadata = metadata
        self.report.has_chat_template = metadata.has_chat_template if metadata.tokenizer is not None else None
        return [_check(result) for result in self.kind.check_model(metadata, self.kind_settings)]

    def check_related_models(self) -> list[Check]:
        """Every other model the run needs (a DPO reference), checked like the model, then by the kind."""
        metadata = self.report.metadata
        if metadata is None:
            roles = [f"{role}_model" for role in self.kind.related_roles]
            return _not_checked(roles, "the model's metadata is missing")
        try:
            wanted = self.kind.related_models(metadata, self.kind_settings)
        except KindSettingsError as error:
            return [Check(f"{self.kind.related_roles[0]}_model", False, error.message)]
        checks: list[Check] = []
        resolved: dict[str, ResolvedModel] = {}
        for related in wanted:
            check, found = self._related_model(related)
            checks.append(check)
            if found is None:
                return checks
            resolved[related.role] = found
            checks.extend(
                _check(result)
                for result in self.kind.check_related(
                    metadata, related.role, found.metadata, self.kind_settings
                )
            )
        if all(check.ok for check in checks):
            self.report.related = resolved
            pinned = self.kind.pin_settings(self.kind_settings, resolved)
            self.report.run_config = run_config(self.request, self.settings, pinned)
        return checks

    def _related_model(self, related: RelatedModel) -> tuple[Check, ResolvedModel | None]:
        name = f"{related.role}_model"
        label = related.label
        problem = invalid_hub_id(related.repo_id)
        if problem is not None:
            return Check(name, False, f"{label}: {related.repo_id!r} {problem}."), None
        try:
            model = self.hub.model_info(related.repo_id, related.revision, timeout=self._hub_timeout())
        except HubError as error:
            return self._hub_failure(name, error, f"{label}: "), None
        if model.gated:
            return Check(
                name, False, f"{label}: {model.repo_id} is gated; the workers cannot accept its terms."
            ), None
        weights = _safetensors_check(name, model)
        if not weights.ok:
            return Check(name, False, f"{label}: {weights.message}"), None
        try:
            count = self._parameter_count(model)
            folder, failure = self._config_folder(name, model)
        except HubError as error:
            return self._hub_failure(name, error, f"{label}: "), None
        if failure is not None:
            return Check(name, False, f"{label}: {failure.message}"), None
        refusal = self._too_large(model.repo_id, count)
        if refusal is not None:
            return Check(name, False, f"{label}: {refusal}"), None
        assert folder is not None
        metadata = replace(self._metadata(model, folder, card=False), parameter_count=count)
        message = (
            f"{label}: found {model.repo_id} at {related.revision}, pinned to commit {model.sha}; "
            f"{count:,} parameters in safetensors; config.json loads without remote code."
        )
        return Check(name, True, message), ResolvedModel(model.repo_id, model.sha, metadata)

    def check_memory(self) -> Check:
        metadata = self.report.metadata
        if metadata is None:
            return _not_checked(["memory"], "the model's metadata is missing")[0]
        related = {role: found.metadata for role, found in self.report.related.items()}
        assert self.report.run_config is not None
        max_length = self.report.run_config.max_length
        positions = position_limit(metadata.config)
        if max_length is not None and positions is not None and max_length > positions:
            return Check(
                "memory",
                False,
                f"max_length {max_length:,} is longer than the {positions:,} positions the model was built "
                f"for (max_position_embeddings); ask for {positions:,} tokens or fewer.",
            )
        estimate = self.kind.memory_bytes(metadata, related, self.kind_settings, max_length)
        if estimate is None:
            return Check(
                "memory", False, "The memory a run needs cannot be estimated without a parameter count."
            )
        self.report.memory_bytes = estimate
        length = f" at max_length {max_length:,}" if max_length is not None else ""
        found = queues.class_for(estimate, self.settings)
        if found is None:
            largest = queues.largest_class(self.settings)
            return Check(
                "memory",
                False,
                f"A run of this {self.kind.label} model{length} needs about {queues.format_bytes(estimate)} "
                f"of GPU memory; the largest workers here ({largest.label}) hold "
                f"{queues.format_bytes(largest.total_bytes)} in all.",
            )
        self.report.queue = found.queue
        limit = queues.time_limit_s(self.report.run_config, self.settings)
        split = f", split over {found.gpus} GPUs" if found.gpus > 1 else ""
        return Check(
            "memory",
            True,
            f"Needs about {queues.format_bytes(estimate)} of GPU memory{length}: queued for workers of "
            f"{found.label} or more{split} (time limit {limit // 60} minutes).",
        )


def _not_checked(names: Iterable[str], why: str) -> list[Check]:
    return [Check(name, False, f"Not checked: {why}.", skipped=True) for name in names]


def _check(result: KindCheck) -> Check:
    return Check(result.name, result.ok, result.message)


def _safetensors_check(name: str, model: HubModel) -> Check:
    if model.has_safetensors():
        return Check(name, True, "Weights are stored as safetensors.")
    pickles = model.pickle_files()
    if pickles:
        return Check(
            name,
            False,
            f"Only pickle weights were found ({', '.join(pickles[:3])}); they can run code when loaded, "
            "so only "
            "safetensors weights are accepted. Convert the checkpoint to safetensors and submit again.",
        )
    return Check(name, False, "No safetensors weights were found in the repository.")


def _load_tokenizer(folder: Path) -> tuple[Any | None, str | None]:
    """The tokenizer from the metadata folder, or None and why (custom code is never loaded)."""
    if "auto_map" in read_json(folder / "tokenizer_config.json"):
        return None, "it needs custom code from its repository; that is not run here"
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder, trust_remote_code=False), None
    except Exception as error:
        return None, _first_line(error)


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
    """The namespace quota (any casing of the namespace) and, for a known client, its own quota; none for a
    maintainer's submission."""
    if submitter is not None and submitter.maintainer:
        return Check("rate_limit", True, "A maintainer's submission: the submission limits do not apply.")
    window = timedelta(days=settings.rate_limit_days)
    count, oldest = repo.recent_for_namespace(session, namespace=namespace, since=now - window)
    limit = namespace_policies.quota(session, namespace, settings.rate_limit_count)
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
