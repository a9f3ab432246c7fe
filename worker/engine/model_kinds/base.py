"""What a model kind is: one definition per kind, holding everything that differs between kinds.

A kind has a key (stored as ``model_type`` everywhere) and a label (pages and upstream files), a typed
settings object validated at submit time and stored with the submission and its result, its submit-time
checks over the model's Hub metadata (``config.json``, tokenizer, model card), the other models it needs
(a DPO reference), its adapter, how its ties are credited, what memory and time a run of it needs, and the
diagnostics it reports with a result. Adding a kind is one new module registered in ``worker.engine.kinds``.

Everything here is plain data over plain data: the web app gathers the metadata (without downloading
weights), the engine evaluates; neither imports the other's machinery through this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, ValidationError

from worker.engine.benchmarks.base import Benchmark, TiePolicy
from worker.engine.errors import InvalidSpecError
from worker.engine.model_size import first_int
from worker.engine.types import ScoredExample

if TYPE_CHECKING:
    from worker.engine.adapters.base import RewardAdapter
    from worker.engine.spec import EvaluationSpec

GIB = 1024**3
# Bytes a weight takes on a GPU worker (bfloat16/float16); routing assumes 16-bit weights.
BYTES_PER_PARAMETER = 2
# What a run needs besides weights and activations: the CUDA context, allocator slack (per GPU).
RUNTIME_OVERHEAD_BYTES = GIB
# Activations of one forward pass, per token and hidden unit, at 16 bits: the hidden state, the attention
# projections and the MLP's wider intermediate (about 16 hidden-sized buffers at once).
ACTIVATION_BYTES_PER_TOKEN_AND_UNIT: Final = 32
# The max_length the estimates assume when a run sets none (upstream's scripts).
DEFAULT_ESTIMATE_LENGTH: Final = 2048


class KindSettingsError(InvalidSpecError):
    """Settings a kind refuses; the message names the setting and says why."""

    kind = "invalid_settings"


class KindSettings(BaseModel):
    """A kind's own settings. Unknown names are refused; every field has a default or is required."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(KindSettings):
    """A kind without settings of its own."""


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What is known about a model before its weights are downloaded.

    ``config``: config.json as a mapping; ``tokenizer``: the loaded tokenizer (None when it failed to load or
    was not read); ``card``: the model card's YAML metadata; ``parameter_count``: from the safetensors
    headers, when known.
    """

    repo_id: str
    config: Mapping[str, Any]
    tokenizer: Any | None = None
    card: Mapping[str, Any] | None = None
    parameter_count: int | None = None
    tokenizer_error: str | None = None  # why the tokenizer did not load

    @property
    def architectures(self) -> list[str]:
        return [str(name) for name in self.config.get("architectures") or []]

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


@dataclass(frozen=True, slots=True)
class KindCheck:
    """One submit-time verdict of a kind, in words a submitter can act on."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class RelatedModel:
    """Another Hub model a run needs (a DPO reference): checked at submit like the model itself."""

    role: str  # a short name, used in check names: "reference"
    label: str  # for messages: "DPO reference model"
    repo_id: str
    revision: str


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A related model after the Hub answered: its own spelling of the id and the commit it is pinned to."""

    repo_id: str
    commit: str
    metadata: ModelMetadata


AdapterFactory = Callable[["EvaluationSpec", Benchmark, KindSettings], "RewardAdapter"]


class ModelKind:
    """One kind of reward model. Subclasses set the class attributes and override what differs.

    The defaults describe a kind that can only be imported from published result files: no settings, no
    adapter, no checks.
    """

    key: str
    label: str
    description: str
    tie_policy: TiePolicy = "strict"
    upstream_labels: tuple[str, ...] = ()
    settings_type: ClassVar[type[KindSettings]] = NoSettings
    # False: kept off the main ranking unless its type is asked for (upstream hides DPO Ref. Free).
    ranked_with_others: bool = True
    # A run's expected duration and time limit, relative to a classifier's on the same model size.
    run_time_factor: float = 1.0
    # Names of the checks ``check_model`` gives (reported as skipped when their inputs failed).
    model_check_names: tuple[str, ...] = ("architecture", "tokenizer")
    # Roles of the related models the kind may need, and the names of ``check_related``'s checks.
    related_roles: tuple[str, ...] = ()
    related_check_names: tuple[str, ...] = ()
    # True: the model is served by a registered endpoint, not fetched from the Hub (maintainers submit it).
    runs_on_endpoint: bool = False

    def __init__(self, key: str, label: str, description: str, **overrides: Any) -> None:
        self.key = key
        self.label = label
        self.description = description
        for name, value in overrides.items():
            if not hasattr(type(self), name):
                raise TypeError(f"unknown kind attribute {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"

    # Evaluating ----------------------------------------------------------------------------------------

    @property
    def evaluable(self) -> bool:
        """Whether runs of this kind can be made here: its class supplies an adapter."""
        return type(self).build_adapter is not ModelKind.build_adapter

    def build_adapter(
        self, spec: EvaluationSpec, benchmark: Benchmark, settings: KindSettings
    ) -> RewardAdapter:
        raise InvalidSpecError(f"{self.label} models cannot be evaluated here; they are imported only")

    def diagnostics(self, scored: Sequence[ScoredExample]) -> dict[str, Any] | None:
        """Figures a reader needs to trust a result of this kind (a judge's parse failures), or None."""
        return None

    # Settings ------------------------------------------------------------------------------------------

    def parse_settings(self, values: Mapping[str, Any] | None) -> KindSettings:
        """The typed settings; a ``KindSettingsError`` in words when a value is wrong or unknown."""
        try:
            return self.settings_type.model_validate(dict(values or {}))
        except ValidationError as error:
            raise KindSettingsError(f"{self.label}: {settings_problems(error)}") from None

    def settings_fields(self) -> list[SettingField]:
        """The settings as form fields: name, label, kind of input, choices, default, help."""
        return [setting_field(name, info) for name, info in self.settings_type.model_fields.items()]

    def describe_settings(self, settings: KindSettings) -> dict[str, Any]:
        """The settings as published with a result."""
        return settings.model_dump(mode="json")

    def results_fields(self, settings: KindSettings) -> dict[str, Any]:
        """Fields upstream's results files carry for this kind (a DPO model's ``ref_model``)."""
        return {}

    # Submit-time checks --------------------------------------------------------------------------------

    def check_model(self, model: ModelMetadata, settings: KindSettings) -> list[KindCheck]:
        """Checks over the model's metadata: its head, its tokenizer and template, what the kind needs."""
        return []

    def needs_card(self, settings: KindSettings) -> bool:
        """Whether the submit checks must read the model card (a reference taken from its base_model)."""
        return False

    def related_models(self, model: ModelMetadata, settings: KindSettings) -> list[RelatedModel]:
        """Other models the run needs; ``KindSettingsError`` when they cannot be named (no base model)."""
        return []

    def check_related(
        self, model: ModelMetadata, role: str, related: ModelMetadata, settings: KindSettings
    ) -> list[KindCheck]:
        """Checks of a related model against the model (a reference's head and tokenizer)."""
        return []

    def pin_settings(self, settings: KindSettings, resolved: Mapping[str, ResolvedModel]) -> KindSettings:
        """The settings with every related model pinned to the id and commit the Hub gave."""
        return settings

    # Routing -------------------------------------------------------------------------------------------

    def default_max_length(self, benchmark_default: int) -> int | None:
        """The max_length of a run that asks for none: the benchmark's (texts are cut at it)."""
        return benchmark_default

    def memory_bytes(
        self,
        model: ModelMetadata,
        related: Mapping[str, ModelMetadata],
        settings: KindSettings,
        max_length: int | None = None,
    ) -> int | None:
        """Device memory a run needs at most (estimate): 16-bit weights, one ``max_length`` sequence of
        activations and the overhead; None when the parameter count is unknown."""
        if model.parameter_count is None:
            return None
        weights = model.parameter_count * BYTES_PER_PARAMETER
        return weights + activation_bytes(model.config, max_length) + RUNTIME_OVERHEAD_BYTES

    def time_factor(self, settings: KindSettings) -> float:
        """Expected run time relative to a classifier of the same size (ETA and time limit)."""
        return self.run_time_factor


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's part of a config (multimodal configs nest it as ``text_config``)."""
    nested = config.get("text_config")
    return nested if isinstance(nested, dict) else config


def hidden_size(config: Mapping[str, Any]) -> int:
    return first_int(text_config(config), "hidden_size", "n_embd", "d_model") or 4096


def position_limit(config: Mapping[str, Any]) -> int | None:
    """The positions the model was built for, when its config says."""
    return first_int(text_config(config), "max_position_embeddings", "n_positions", "max_sequence_length")


def activation_bytes(config: Mapping[str, Any], max_length: int | None) -> int:
    tokens = max_length or DEFAULT_ESTIMATE_LENGTH
    return tokens * hidden_size(config) * ACTIVATION_BYTES_PER_TOKEN_AND_UNIT


@dataclass(frozen=True, slots=True)
class SettingField:
    """One setting as the submission form shows it."""

    name: str
    label: str
    input: str  # "checkbox", "select", "number", "text"
    choices: tuple[str, ...]
    default: Any
    help: str
    minimum: int | None = None
    maximum: int | None = None


def setting_field(name: str, info: Any) -> SettingField:
    """A pydantic field as a form field: a Literal is a select, a bool a checkbox, an int a number."""
    from typing import Literal, get_args, get_origin

    annotation = info.annotation
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    base = args[0] if get_origin(annotation) is not Literal and len(args) == 1 else annotation
    minimum = maximum = None
    for constraint in info.metadata:
        minimum = getattr(constraint, "ge", minimum)
        maximum = getattr(constraint, "le", maximum)
    default = None if info.is_required() else info.default
    label, help_text = info.title or _label(name), info.description or ""
    if get_origin(base) is Literal:
        choices = tuple(str(choice) for choice in get_args(base))
        return SettingField(name, label, "select", choices, default, help_text)
    kind = "checkbox" if base is bool else "number" if base is int else "text"
    return SettingField(name, label, kind, (), default, help_text, minimum, maximum)


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def settings_problems(error: ValidationError) -> str:
    """A pydantic validation error as one sentence naming each setting."""
    problems = []
    for item in error.errors():
        location = ".".join(["settings", *(str(part) for part in item["loc"])])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a setting of this model type"
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


# Shared checks ---------------------------------------------------------------------------------------------

CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def causal_lm_head(model: ModelMetadata, purpose: str, name: str = "architecture") -> KindCheck:
    """A language-model head (``*ForCausalLM``), not a classification head: DPO policies and judges."""
    architectures = model.architectures
    heads = [arch for arch in architectures if arch.endswith(CAUSAL_LM_SUFFIXES)]
    if heads:
        return KindCheck(name, True, f"{heads[0]}: a causal language model, as {purpose} needs.")
    found = ", ".join(architectures) or "none listed"
    return KindCheck(
        name,
        False,
        f"{purpose} needs a causal language-model head (*ForCausalLM) to read log-probabilities or "
        f"generate text; config.json lists {found}.",
    )


def tokenizer_loads(model: ModelMetadata, name: str = "tokenizer") -> KindCheck | None:
    """A failed check when the tokenizer did not load; None when it did."""
    if model.tokenizer is None:
        reason = model.tokenizer_error or "no tokenizer files"
        return KindCheck(name, False, f"The tokenizer could not be loaded: {reason}")
    return None
