"""The Hub stand-in is good enough for the real huggingface_hub and transformers download code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.services.intake.hub import HubClient, HubGatedError, HubNotFoundError, HubUnreachableError
from tests.submissions.conftest import GATED, GOOD, PRIVATE, REPO_ROOT
from tests.support.hub_server import HubServer

LOAD_SCRIPT = """
import sys
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], revision=sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], revision=sys.argv[2])
print("LOADED", type(model).__name__, model.config.num_labels, bool(tokenizer.chat_template))
"""


def test_transformers_loads_a_model_through_the_stand_in(hub: HubServer, tmp_path: Path) -> None:
    sha = hub.repo(GOOD).sha  # type: ignore[union-attr]
    env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"})
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, GOOD, sha],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "LOADED LlamaForSequenceClassification 1 True" in completed.stdout
    assert hub.downloaded(f"/{GOOD}/resolve/{sha}/model.safetensors")
    assert list(
        (tmp_path / "hf" / "hub").glob(f"models--tiny-org--good-rm/snapshots/{sha}/model.safetensors")
    )


def test_resolve_answers_with_the_headers_huggingface_hub_needs(hub: HubServer) -> None:
    repo = hub.repo(GOOD)
    assert repo is not None
    head = httpx.head(f"{hub.url}/{GOOD}/resolve/main/config.json")
    assert head.status_code == 200
    assert head.headers["X-Repo-Commit"] == repo.sha
    assert head.headers["ETag"].startswith('"')
    assert int(head.headers["Content-Length"]) == len(repo.files["config.json"])
    ranged = httpx.get(f"{hub.url}/{GOOD}/resolve/main/model.safetensors", headers={"Range": "bytes=0-7"})
    assert ranged.status_code == 206 and len(ranged.content) == 8
    missing = httpx.get(f"{hub.url}/{GOOD}/resolve/main/nope.json")
    assert (missing.status_code, missing.headers["X-Error-Code"]) == (404, "EntryNotFound")
    revision = httpx.get(f"{hub.url}/api/models/{GOOD}/revision/no-such-branch")
    assert revision.headers["X-Error-Code"] == "RevisionNotFound"


def test_hub_client_pins_the_commit_and_reads_parameters(hub: HubServer, tmp_path: Path) -> None:
    client = HubClient(hub.url, cache_dir=tmp_path)
    model = client.model_info(GOOD, "main")
    repo = hub.repo(GOOD)
    assert repo is not None and model.sha == repo.sha
    assert model.parameter_count and model.parameter_count > 0
    assert client.safetensors_parameter_count(GOOD, model.sha) == model.parameter_count
    folder = client.download_metadata(model)
    assert (folder / "config.json").exists() and not (folder / "model.safetensors").exists()


@pytest.mark.parametrize(
    ("repo_id", "revision", "error"),
    [
        ("tiny-org/does-not-exist", "main", HubNotFoundError),
        (PRIVATE, "main", HubNotFoundError),
        (GOOD, "no-such-branch", HubNotFoundError),
    ],
)
def test_hub_client_errors(hub: HubServer, repo_id: str, revision: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        HubClient(hub.url).model_info(repo_id, revision)


def test_gated_files_are_refused(hub: HubServer, tmp_path: Path) -> None:
    client = HubClient(hub.url, cache_dir=tmp_path)
    model = client.model_info(GATED, "main")
    assert model.gated
    with pytest.raises(HubGatedError):
        client.download_metadata(model)


def test_an_unreachable_hub_is_reported_as_such() -> None:
    with pytest.raises(HubUnreachableError):
        HubClient("http://127.0.0.1:9", timeout=2).model_info(GOOD, "main")
