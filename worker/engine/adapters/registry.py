"""Adapters by ``EvaluationSpec.model_type``."""

from __future__ import annotations

from collections.abc import Callable

from worker.engine.adapters.base import RewardAdapter
from worker.engine.errors import InvalidSpecError
from worker.engine.spec import EvaluationSpec

AdapterFactory = Callable[[EvaluationSpec], RewardAdapter]


def _classifier(spec: EvaluationSpec) -> RewardAdapter:
    from worker.engine.adapters.classifier import ClassifierAdapter

    return ClassifierAdapter.from_spec(spec)


ADAPTERS: dict[str, AdapterFactory] = {"classifier": _classifier}


def build_adapter(spec: EvaluationSpec) -> RewardAdapter:
    try:
        factory = ADAPTERS[spec.model_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise InvalidSpecError(f"unknown model type {spec.model_type!r}; known: {known}") from None
    return factory(spec)
