"""Parameter counts as a visitor reads them: the stored count (from the Hub's safetensors metadata at
submission, and for a mixture of experts the active count its config implies), else the size a model's
name states, marked as such.

Names state sizes in several ways: "Llama-3.1-8B", "llama13b", "Qwen2.5-0.5B", "internlm2-1_8b" (1.8B),
Pythia's "pythia1-4b" (1.4B) and "pythia12-0b" (12B), mixtures of experts as "Mixtral-8x7B" (8 experts
of 7B) or "Qwen1.5-MoE-A2.7B" (2.7B active; the total is not in the name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from worker.engine.model_size import active_parameters

ParametersSource = Literal["hub", "name"]

_SEP = r"[-_ .]"
# Mixtures of experts by their expert count and size: "8x7B".
_EXPERTS = re.compile(rf"(?:^|{_SEP})(\d+)x(\d+(?:\.\d+)?)b(?=$|{_SEP})")
# Active parameters of a mixture: "A2.7B" (Qwen-MoE, Qwen3-30B-A3B).
_ACTIVE = re.compile(rf"(?:^|{_SEP})a(\d+(?:\.\d+)?)b(?=$|{_SEP})")
# "1_8b" after a separator (InternLM2), and Pythia's "pythia1-4b": a decimal point written as _ or -.
_UNDERSCORE_DECIMAL = re.compile(rf"(?:^|[-. ])(\d+)_(\d)b(?=$|{_SEP})")
_PYTHIA = re.compile(rf"pythia-?(\d+)-(\d)b(?=$|{_SEP})")
# A plain size: a number, directly after a separator or a word ("llama13b"), followed by B or M.
_SIZE = re.compile(rf"(?:^|{_SEP}|(?<=[a-z]))(\d+(?:\.\d+)?)([bm])(?=$|{_SEP})")

# Published totals and active counts of the mixtures named by their experts (the shared attention layers
# make N x M an overestimate): Mixtral 8x7B and 8x22B (Mistral AI's model cards).
KNOWN_MIXTURES: dict[tuple[int, float], tuple[int, int]] = {
    (8, 7.0): (46_700_000_000, 12_900_000_000),
    (8, 22.0): (140_600_000_000, 39_100_000_000),
}


@dataclass(frozen=True, slots=True)
class NameSize:
    """What a model's name says about its size: a total, an active count (mixtures), or both."""

    total: int | None = None
    active: int | None = None
    experts: str | None = None  # "8x7B", as named


def _billions(number: str) -> int:
    return round(float(number) * 1e9)


def size_from_name(model: str) -> NameSize | None:
    """The size stated by a model's name (the part after the last "/"), or None when it states none or
    several different ones."""
    name = model.rsplit("/", 1)[-1].lower()
    experts = _EXPERTS.search(name)
    if experts:
        count, size = int(experts.group(1)), float(experts.group(2))
        total, active = KNOWN_MIXTURES.get((count, size), (None, None))
        label = f"{count}x{experts.group(2)}B"
        return NameSize(total=total, active=active, experts=label)
    active_match = _ACTIVE.search(name)
    active = _billions(active_match.group(1)) if active_match else None
    if active_match:
        name = name[: active_match.start()] + " " + name[active_match.end() :]
    sizes = _stated_sizes(name)
    if len(sizes) > 1:
        return None
    total = sizes.pop() if sizes else None
    if total is None and active is None:
        return None
    return NameSize(total=total, active=active)


def _stated_sizes(name: str) -> set[int]:
    """The distinct totals a (lower-case) name states; sizes in billions win over sizes in millions."""
    for pattern in (_PYTHIA, _UNDERSCORE_DECIMAL):
        found = pattern.search(name)
        if found:
            return {_billions(f"{found.group(1)}.{found.group(2)}")}
    billions = {_billions(number) for number, unit in _SIZE.findall(name) if unit == "b"}
    if billions:
        return billions
    return {round(float(number) * 1e6) for number, unit in _SIZE.findall(name) if unit == "m"}


@dataclass(frozen=True, slots=True)
class ParameterCount:
    """A model's parameter count as shown: the stored total, else what its name states."""

    total: int | None
    active: int | None
    source: ParametersSource | None
    experts: str | None = None

    @property
    def plotted(self) -> int | None:
        """The size a plot places the model at: its total."""
        return self.total


def parameter_count(model: str, stored: int | None, stored_active: int | None = None) -> ParameterCount:
    """The stored count when there is one (from the Hub), else the one the model's name states."""
    if stored:
        return ParameterCount(total=stored, active=stored_active, source="hub")
    named = size_from_name(model)
    if named is None:
        return ParameterCount(total=None, active=None, source=None)
    return ParameterCount(total=named.total, active=named.active, source="name", experts=named.experts)


def format_count(value: int | None) -> str:
    """12000000000 -> "12B", 1_400_000_000 -> "1.4B", 350_000_000 -> "350M"; None -> "—"."""
    if value is None:
        return "—"
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= divisor:
            return f"{value / divisor:.1f}".removesuffix(".0") + suffix
    return str(value)


def describe(count: ParameterCount) -> str:
    """The count in words for a cell: "7B", "46.7B (8x7B, 12.9B active)", "2.7B active"; "—" without one."""
    if count.total is None and count.active is None:
        return f"{count.experts} MoE" if count.experts else "—"
    if count.total is None:
        return f"{format_count(count.active)} active"
    details = [
        part for part in (count.experts, count.active and f"{format_count(count.active)} active") if part
    ]
    return format_count(count.total) + (f" ({', '.join(details)})" if details else "")


class SizedModel(Protocol):
    parameter_count: int | None
    active_parameter_count: int | None


def record_sizes(model: SizedModel, total: int | None, config: Mapping[str, Any] | None) -> None:
    """Store what a submission's checks read (the safetensors total; a mixture's active count from its
    config) on a model that has no count yet."""
    if total is not None:
        _store(model, total, active_parameters(config, total) if config is not None else None)


def record_worker_sizes(model: SizedModel, sizes: Any) -> None:
    """Store the sizes a worker read from the model's files (its ``parameters`` record: total, and active
    for a mixture) on a model that has no count yet, e.g. one submitted before counts were kept."""
    if isinstance(sizes, Mapping) and isinstance(sizes.get("total"), int):
        active = sizes.get("active")
        _store(model, int(sizes["total"]), active if isinstance(active, int) else None)


def _store(model: SizedModel, total: int, active: int | None) -> None:
    """The first count a model gets is kept; later ones never overwrite it."""
    if model.parameter_count is not None:
        return
    model.parameter_count = total
    if model.active_parameter_count is None:
        model.active_parameter_count = active
