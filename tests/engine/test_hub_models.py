"""Hub models through the real huggingface_hub download code, served by the local Hub stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import SAMPLE
from tests.support.hub_server import HubServer

REPO_ROOT = Path(__file__).resolve().parents[2]
EVALUATE = (
    "import argparse, sys\n"
    "from worker.engine import cli_evaluate\n"
    "parser = argparse.ArgumentParser()\n"
    "cli_evaluate.add_arguments(parser, 'evaluate')\n"
    "sys.exit(cli_evaluate.run(parser.parse_args(sys.argv[1:])))\n"
)


@pytest.fixture(scope="module")
def hub(llama_template: Path) -> Iterator[HubServer]:
    with HubServer() as server:
        server.add_repo_from_dir("tiny-org/rm", llama_template, branches=("main", "v1"))
        server.add_repo_from_dir(
            "tiny-org/pickled-rm",
            llama_template,
            drop=("model.safetensors",),
            extra={"pytorch_model.bin": b"x"},
        )
        yield server


def _evaluate(hub: HubServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"})
    command = [sys.executable, "-c", EVALUATE, *args, "--dataset", str(SAMPLE), "--no-progress"]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_hub_model_at_a_branch_records_its_commit(hub: HubServer, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    completed = _evaluate(
        hub, tmp_path, "tiny-org/rm", "--revision", "v1", "--limit-per-subset", "1", "--output", str(output)
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    record = json.loads(output.read_text())["reproducibility"]
    assert record["model"] == "tiny-org/rm"
    assert record["revision"] == "v1"
    assert record["resolved_commit"] == hub.repo("tiny-org/rm").sha  # type: ignore[union-attr]
    assert record["local_files_sha256"] is None


@pytest.mark.parametrize(
    ("model", "revision", "reason"),
    [
        ("tiny-org/absent", "main", "tiny-org/absent: model not found on the Hub"),
        ("tiny-org/rm", "no-such-branch", "tiny-org/rm: revision 'no-such-branch' not found"),
        ("tiny-org/pickled-rm", "main", "tiny-org/pickled-rm: no .safetensors weights at this revision"),
    ],
)
def test_hub_model_errors(hub: HubServer, tmp_path: Path, model: str, revision: str, reason: str) -> None:
    completed = _evaluate(hub, tmp_path, model, "--revision", revision)
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"error: {reason}")
    assert completed.stderr.count("\n") == 1
    assert not hub.downloaded("pytorch_model.bin")
