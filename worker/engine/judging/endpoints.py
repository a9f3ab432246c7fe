"""Judge endpoints: OpenAI-compatible servers a judge's model is served on, registered by the operator.

An endpoint is a ``vllm serve`` / TGI / SGLang deployment the operator runs (for 70B+ judges) or a hosted API
(OpenAI; Anthropic and Gemini through their OpenAI-compatible routes). The registry comes from the
operator's configuration, never from the database: ``JUDGE_ENDPOINTS`` (JSON: name -> definition) and/or
``JUDGE_ENDPOINTS_FILE`` (a JSON or TOML file of the same shape). A definition names where the key is (an
environment variable or a file, read by the worker when it calls), never the key itself.

``api`` picks how a judge prompt is sent:
- ``completions``: the prompt rendered with the judge's chat template (``tokenizer``: a local directory or a
  Hub id) and sent as its token ids, the very ids the in-process backends generate from, so an endpoint
  serving the same weights gives the same verdicts (vLLM and SGLang take token-id prompts).
- ``chat``: the system and user messages, templated by the server (hosted APIs).

Failures are typed engine errors (``kind`` is stored as the submission's failure kind): the endpoint
unavailable (5xx, timeouts, refused connections, after the retries), rate limited (429 after the retries),
the run's request budget spent, a request refused (other 4xx, a malformed answer), or the worker's
configuration wrong (unknown endpoint, key missing, the served model changed since submission).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.engine.errors import EngineError

if TYPE_CHECKING:
    import openai

ENDPOINTS_ENV: Final = "JUDGE_ENDPOINTS"
ENDPOINTS_FILE_ENV: Final = "JUDGE_ENDPOINTS_FILE"
NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,39}$"
_NAME = re.compile(NAME_PATTERN)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# What the openai client sends when an endpoint takes no key (a loopback vLLM server started without one).
NO_KEY: Final = "no-key"


class EndpointError(EngineError):
    kind = "endpoint_error"


class EndpointConfigError(EndpointError):
    """The worker cannot call the endpoint as registered: unknown, no key, the served model changed."""

    kind = "endpoint_misconfigured"


class EndpointUnavailableError(EndpointError):
    """5xx answers, timeouts or refused connections, still after every retry."""

    kind = "endpoint_unavailable"


class EndpointRateLimitedError(EndpointError):
    """429 answers, still after every retry."""

    kind = "endpoint_rate_limited"


class EndpointBudgetError(EndpointError):
    """The run needs, or has used, more requests than the endpoint's per-run budget."""

    kind = "endpoint_budget_exhausted"


class EndpointRefusedError(EndpointError):
    """The endpoint refused a request (a 4xx other than 429) or answered something that is not an answer."""

    kind = "endpoint_refused"


class Endpoint(BaseModel):
    """One registered endpoint. Every field but ``base_url`` and ``model`` has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="the registry key; submissions name it")
    base_url: str = Field(description="the OpenAI-compatible API root, e.g. http://10.0.0.5:8000/v1")
    model: str = Field(min_length=1, max_length=200, description="the served model name sent with requests")
    model_id: str = Field(
        default="",
        max_length=200,
        description="the id shown on the board (org/name); default: the served name when it has an org, "
        "else <provider, lower case>/<served name> (openai/gpt-4o-2024-08-06, as the published rows)",
    )
    provider: str = Field(default="OpenAI-compatible", min_length=1, max_length=50)
    api: Literal["completions", "chat"] = "chat"
    tokenizer: str | None = Field(
        default=None, max_length=500, description="completions: the judge's tokenizer (a directory or Hub id)"
    )
    tokenizer_revision: str | None = Field(default=None, max_length=200)
    context_length: int | None = Field(
        default=None, ge=16, description="completions: tokens a prompt and its answer may use together"
    )
    api_key_env: str | None = Field(default=None, description="the environment variable holding the key")
    api_key_file: str | None = Field(default=None, description="a file holding the key")
    max_concurrency: int = Field(default=4, ge=1, le=256, description="requests in flight at once")
    requests_per_minute: float | None = Field(default=None, gt=0, description="None: no rate limit")
    max_requests_per_run: int = Field(default=100_000, ge=1, description="requests one run may send")
    timeout_s: float = Field(default=120.0, gt=0, description="one request's time limit")
    max_retries: int = Field(default=4, ge=0, le=20, description="retries of a 429, 5xx or timed-out request")
    backoff_s: float = Field(default=1.0, ge=0, description="the first wait before a retry; doubles")
    max_backoff_s: float = Field(default=60.0, ge=0, description="no wait is longer (Retry-After included)")
    supports_seed: bool = Field(default=False, description="the API takes a seed (vLLM, OpenAI)")
    vllm_sampling: bool = Field(
        default=False,
        description="completions on vLLM: send the judge's stop token ids, a repetition penalty of 1 and "
        "ask for the answer's token ids, so answers are read exactly as in-process",
    )
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens", description="chat: the name the API gives the answer-length limit"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_inline_key(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        if any(key in data for key in ("api_key", "key", "token")):
            raise ValueError(
                "an endpoint definition never holds the key itself: name an environment variable "
                "(api_key_env) or a file (api_key_file) that holds it"
            )
        if not data.get("model_id") and isinstance(data.get("model"), str):
            model, provider = data["model"], str(data.get("provider") or "OpenAI-compatible").lower()
            return {**data, "model_id": _id_like(model if "/" in model else f"{provider}/{model}")}
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host, e.g. https://api.openai.com/v1")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not hold credentials, a query or a fragment (keys go in api_key_env)")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable's name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Endpoint:
        if self.api_key_env and self.api_key_file:
            raise ValueError("give api_key_env or api_key_file, not both")
        if self.api == "completions" and not self.tokenizer:
            raise ValueError(
                "api 'completions' sends the prompt as the judge's token ids: name its tokenizer "
                "(a directory or a Hub id)"
            )
        problem = board_id_problem(self.model_id)
        if problem is not None:
            raise ValueError(f"model_id {self.model_id!r} {problem}")
        return self

    @property
    def host(self) -> str:
        """The base URL's host and port: what a result records of where it ran (never a key)."""
        parts = urlsplit(self.base_url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    @property
    def key_source(self) -> str:
        if self.api_key_env:
            return "environment variable"
        if self.api_key_file:
            return "file"
        return "none"

    def describe(self) -> dict[str, Any]:
        """What a result and a maintainer may see: no key, no key location, the host only."""
        return {
            "name": self.name,
            "provider": self.provider,
            "api": self.api,
            "host": self.host,
            "model": self.model,
            "model_id": self.model_id,
            "tokenizer": self.tokenizer,
            "tokenizer_revision": self.tokenizer_revision,
        }

    def limits(self) -> dict[str, Any]:
        return {
            "max_concurrency": self.max_concurrency,
            "requests_per_minute": self.requests_per_minute,
            "max_requests_per_run": self.max_requests_per_run,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "backoff_s": self.backoff_s,
            "max_backoff_s": self.max_backoff_s,
        }


def _id_like(text: str) -> str:
    """A provider and model name as an org/name id: spaces and other characters become '-'."""
    org, _, name = text.partition("/")
    return "/".join(re.sub(r"[^A-Za-z0-9_.-]+", "-", part).strip("-.") for part in (org, name))


def board_id_problem(model_id: str) -> str | None:
    """Why ``model_id`` cannot name a model on the board (it must read as org/name), or None."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if model_id.count("/") != 1 or not all(model_id.split("/")):
        return "is not of the form org/name"
    try:
        validate_repo_id(model_id)
    except HFValidationError:
        return "is not a valid org/name id (letters, digits, '-', '_', '.')"
    return None


@dataclass(frozen=True, slots=True)
class EndpointSources:
    """Where the registry is configured: inline definitions (JSON text or a mapping) and a file."""

    inline: Mapping[str, Any] | str | None = None
    file: str | Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EndpointSources:
        values = os.environ if environ is None else environ
        return cls(values.get(ENDPOINTS_ENV) or None, values.get(ENDPOINTS_FILE_ENV) or None)


class EndpointRegistry:
    """The registered endpoints by name."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)

    def __len__(self) -> int:
        return len(self.endpoints)

    def names(self) -> list[str]:
        return sorted(self.endpoints)

    def find(self, name: str) -> Endpoint | None:
        return self.endpoints.get(name)

    def get(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            known = ", ".join(self.names()) or "none"
            raise EndpointConfigError(
                f"no judge endpoint named {name!r} is registered on this worker ({ENDPOINTS_ENV} or "
                f"{ENDPOINTS_FILE_ENV}); registered: {known}"
            )
        return endpoint


def load_registry(sources: EndpointSources) -> EndpointRegistry:
    """Parse and check every definition; ``EndpointConfigError`` in words naming the endpoint and field."""
    definitions: dict[str, Any] = {}
    for origin, document in _documents(sources):
        if not isinstance(document, Mapping):
            raise EndpointConfigError(f"{origin} must map endpoint names to definitions")
        for name, definition in document.items():
            if name in definitions:
                raise EndpointConfigError(f"judge endpoint {name!r} is defined twice ({origin} repeats it)")
            definitions[str(name)] = definition
    endpoints: dict[str, Endpoint] = {}
    for name, definition in definitions.items():
        if not _NAME.match(name):
            raise EndpointConfigError(
                f"judge endpoint name {name!r}: use up to 40 lower-case letters, digits, '.', '_' or '-'"
            )
        if not isinstance(definition, Mapping):
            raise EndpointConfigError(f"judge endpoint {name!r}: its definition must be a table/object")
        try:
            endpoints[name] = Endpoint.model_validate({**definition, "name": name})
        except ValidationError as error:
            raise EndpointConfigError(f"judge endpoint {name!r}: {_problems(error)}") from None
    return EndpointRegistry(endpoints)


def _documents(sources: EndpointSources) -> list[tuple[str, Any]]:
    documents: list[tuple[str, Any]] = []
    if isinstance(sources.inline, str):
        try:
            documents.append((ENDPOINTS_ENV, json.loads(sources.inline)))
        except json.JSONDecodeError as error:
            raise EndpointConfigError(f"{ENDPOINTS_ENV} is not valid JSON ({error.msg})") from None
    elif sources.inline:
        documents.append((ENDPOINTS_ENV, sources.inline))
    if sources.file:
        path = Path(sources.file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise EndpointConfigError(
                f"{ENDPOINTS_FILE_ENV} {path} cannot be read ({error.strerror})"
            ) from None
        try:
            document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
            kind = "TOML" if path.suffix == ".toml" else "JSON"
            raise EndpointConfigError(f"{ENDPOINTS_FILE_ENV} {path} is not valid {kind} ({error})") from None
        documents.append((str(path), document))
    return documents


def _problems(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a field of an endpoint"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def read_api_key(endpoint: Endpoint, environ: Mapping[str, str] | None = None) -> str | None:
    """The endpoint's key, read now (on the worker, at call time); None when it takes none."""
    if endpoint.api_key_env:
        value = (os.environ if environ is None else environ).get(endpoint.api_key_env, "").strip()
        if not value:
            raise EndpointConfigError(
                f"judge endpoint {endpoint.name!r}: its key's environment variable {endpoint.api_key_env} is "
                "not set on this worker"
            )
        return value
    if endpoint.api_key_file:
        try:
            value = Path(endpoint.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise EndpointConfigError(
                f"judge endpoint {endpoint.name!r}: its key file cannot be read ({error.strerror})"
            ) from None
        if not value:
            raise EndpointConfigError(f"judge endpoint {endpoint.name!r}: its key file is empty")
        return value
    return None


def make_client(endpoint: Endpoint, environ: Mapping[str, str] | None = None) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for the endpoint, its key read now. The client does not retry by itself:
    the generator retries (and counts every request against the run's budget)."""
    import openai

    return openai.OpenAI(
        base_url=endpoint.base_url,
        api_key=read_api_key(endpoint, environ) or NO_KEY,
        timeout=endpoint.timeout_s,
        max_retries=0,
    )
