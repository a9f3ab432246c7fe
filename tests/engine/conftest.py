"""Tiny real checkpoints (built once per session) and the committed data sample."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.support.tiny_models import (
    BOS_TEMPLATE,
    PLAIN_TEMPLATE,
    build_tiny_causal_lm,
    build_tiny_classifier,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "rewardbench_sample.jsonl"
SAMPLE_V2 = DATA / "rewardbench2_sample.jsonl"
GOLDEN_V2 = DATA / "rewardbench2_golden.json"
PRIOR_SAMPLE = DATA / "prior_sets_sample.jsonl"
FULL_V1 = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "rewardbench-data"
    / "rewardbench_v1_filtered.jsonl"
)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def llama_template(models_dir: Path) -> Path:
    return build_tiny_classifier(models_dir / "llama-template", chat_template=PLAIN_TEMPLATE)


@pytest.fixture(scope="session")
def llama_bos_template(models_dir: Path) -> Path:
    return build_tiny_classifier(models_dir / "llama-bos-template", chat_template=BOS_TEMPLATE)


@pytest.fixture(scope="session")
def llama_no_template(models_dir: Path) -> Path:
    return build_tiny_classifier(models_dir / "llama-no-template", chat_template=None)


@pytest.fixture(scope="session")
def gpt2_no_template(models_dir: Path) -> Path:
    return build_tiny_classifier(models_dir / "gpt2-no-template", arch="gpt2", chat_template=None, seed=1)


@pytest.fixture(scope="session")
def three_labels(models_dir: Path) -> Path:
    return build_tiny_classifier(models_dir / "three-labels", num_labels=3)


@pytest.fixture(scope="session")
def causal_lm(models_dir: Path) -> Path:
    return build_tiny_causal_lm(models_dir / "causal-lm")


@pytest.fixture
def rewardboard(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sequence[str]], int]:
    """``rewardboard`` as installed, limited to the engine's commands (the others belong to the web app)."""
    import app.cli

    engine_commands = {
        name: entry for name, entry in app.cli.COMMANDS.items() if entry[0].startswith("worker.")
    }
    monkeypatch.setattr(app.cli, "COMMANDS", engine_commands)
    monkeypatch.setattr(sys, "argv", ["rewardboard"])
    return lambda argv: app.cli.main(list(argv))
