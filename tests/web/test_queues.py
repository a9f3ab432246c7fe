"""Routing by memory over worker classes, and the time limits of each kind and length (no broker)."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.services.intake.queues import (
    WorkerClass,
    all_queues,
    class_for,
    max_parameters,
    queue_for,
    queues_within,
    route,
    time_limit_s,
)
from app.services.intake.run_spec import RunConfig
from tests.support.model_shapes import GEMMA2_27B_PARAMETERS, LLAMA_70B_PARAMETERS
from tests.support.model_shapes import LLAMA_70B as LLAMA_70B_SHAPE
from worker.engine.kinds import get_kind
from worker.engine.model_kinds.base import ModelMetadata
from worker.settings import WorkerSettings, limit_visible_gpus, own_class, worker_queues

GB = 1024**3
SETTINGS = Settings(worker_classes=[16, 4, 80], eval_time_limit_s=3600, eval_max_time_limit_s=36_000)
DEFAULT = Settings()
LLAMA_70B = {**LLAMA_70B_SHAPE, "architectures": ["LlamaForCausalLM"]}


def config(model_type: str, max_length: int | None = 2048, **settings: object) -> RunConfig:
    return RunConfig(
        benchmark="rewardbench-v1", model_type=model_type, kind_settings=settings, max_length=max_length
    )


def test_a_run_goes_to_the_smallest_queue_that_holds_it() -> None:
    assert queue_for(3 * GB, SETTINGS) == "evaluations-4g"
    assert queue_for(int(3.9 * GB), SETTINGS) == "evaluations-4g"
    assert queue_for(4 * GB, SETTINGS) == "evaluations-16g"  # a 4 GB device reports a little less
    assert queue_for(81 * GB, SETTINGS) is None
    small, medium, large = (WorkerClass(1, size) for size in (4, 16, 80))
    assert queues_within(WorkerClass(1, 24), SETTINGS) == ["evaluations-4g", "evaluations-16g"]
    assert queues_within(WorkerClass(1, 2), SETTINGS) == ["evaluations-4g"]  # still takes the smallest
    assert queues_within(WorkerClass(1, 141), SETTINGS) == [small.queue, medium.queue, large.queue]


def test_worker_classes_parse_and_name_their_queues() -> None:
    assert WorkerClass.parse("8x80") == WorkerClass(8, 80.0)
    assert WorkerClass.parse("1x24").queue == "evaluations-24g" == WorkerClass.parse(24).queue
    assert WorkerClass.parse(" 4 x 141 GB ").queue == "evaluations-4x141g"
    for wrong in ("x80", "0x80", "8x0", "eighty", "8x80x2"):
        with pytest.raises(ValueError, match="is not a worker class"):
            WorkerClass.parse(wrong)
    with pytest.raises(ValidationError, match="is not a worker class"):
        Settings(worker_classes=["8x80", "lots"])
    assert Settings(worker_classes=["1x24", "8x80"]).worker_classes == ["1x24", "8x80"]


def test_the_routing_table_of_the_boards_top() -> None:
    """Parameter count, kind and max_length -> the class the default deployment sends the run to."""
    classifier, judge, dpo = get_kind("classifier"), get_kind("judge-pairwise"), get_kind("dpo")

    def needed(kind_key: str, parameters: int, max_length: int | None, **settings: object) -> int:
        kind = get_kind(kind_key)
        model = ModelMetadata("org/m", LLAMA_70B, None, None, parameters)
        related = {"reference": model} if kind_key == "dpo" else {}
        estimate = kind.memory_bytes(model, related, kind.parse_settings(settings), max_length)
        assert estimate is not None
        return estimate

    def routed(kind_key: str, parameters: int, max_length: int | None = None, **settings: object) -> str:
        found = class_for(needed(kind_key, parameters, max_length, **settings), DEFAULT)
        return found.label if found is not None else "refused"

    assert classifier and judge and dpo
    assert routed("classifier", 6_000_000_000, 2048) == "16 GB"
    assert routed("classifier", 8_000_000_000, 2048) == "48 GB"  # 14.9 GiB of weights and the rest
    assert routed("classifier", GEMMA2_27B_PARAMETERS, 2048) == "80 GB"
    assert routed("classifier", LLAMA_70B_PARAMETERS, 2048) == "141 GB"
    assert routed("classifier", LLAMA_70B_PARAMETERS, 16384) == "141 GB"
    assert routed("classifier", LLAMA_70B_PARAMETERS, 131072) == "4x80 GB"  # 32 GiB of activations at 128k
    assert routed("judge-pairwise", LLAMA_70B_PARAMETERS) == "141 GB"
    assert routed("judge-pairwise", LLAMA_70B_PARAMETERS, 32768) == "2x80 GB"
    assert routed("dpo", LLAMA_70B_PARAMETERS, 2048, reference_model="org/sft") == "141 GB"
    assert routed("classifier", 340_000_000_000, 2048) == "8x141 GB"  # Nemotron-4-340B
    assert routed("classifier", 405_000_000_000, 2048) == "8x141 GB"
    assert routed("classifier", 1_200_000_000_000, 2048) == "refused"


def test_the_parameter_limit_follows_the_largest_class_unless_set() -> None:
    assert 590e9 < max_parameters(DEFAULT) < 600e9  # 8x141 GB at 16 bits
    assert max_parameters(Settings(max_parameters=20_000_000_000)) == 20_000_000_000
    assert 12e9 < max_parameters(Settings(worker_classes=["1x24"])) < 13e9


def test_time_limits_scale_with_the_kind_and_the_length_and_are_capped() -> None:
    assert time_limit_s(config("classifier"), SETTINGS) == 3600
    assert time_limit_s(config("classifier", 8192), SETTINGS) == 4 * 3600
    assert time_limit_s(config("classifier", 1024), SETTINGS) == 3600
    dpo = time_limit_s(config("dpo", reference_model="org/sft"), SETTINGS)
    assert 3600 < dpo < 36_000
    assert time_limit_s(config("judge-rubric", None), SETTINGS) == 36_000  # 40 x the limit, capped
    short = time_limit_s(config("judge-pairwise", None, max_new_tokens=64), SETTINGS)
    assert 3600 <= short < time_limit_s(config("judge-pairwise", None), SETTINGS)
    legacy = route(config("classifier"), None, SETTINGS)  # a submission stored before routing existed
    assert legacy.queue == "evaluations-4g" and legacy.soft_time_limit_s < legacy.time_limit_s


def test_a_worker_takes_the_queues_of_its_class() -> None:
    worker = WorkerSettings(worker_classes=[4, 16, 80], worker_memory_gb=20)
    assert worker_queues(worker) == ["evaluations-4g", "evaluations-16g"]
    detected = worker_queues(WorkerSettings(worker_classes=[4, 16, 80]))
    assert detected[0] == "evaluations-4g"
    eight = WorkerSettings(worker_gpus=8, worker_memory_gb=79.6)  # eight H100s as they report themselves
    assert own_class(eight) == WorkerClass(8, 79.6)
    assert worker_queues(eight) == [
        "evaluations-4g",
        "evaluations-16g",
        "evaluations-48g",
        "evaluations-80g",
        "evaluations-2x80g",
        "evaluations-4x80g",
        "evaluations-8x80g",
    ]
    h200 = worker_queues(WorkerSettings(worker_gpus=1, worker_memory_gb=139.8))
    assert h200[-1] == "evaluations-141g"


def test_the_environment_names_the_classes_and_the_older_setting_single_devices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUEUE_MEMORY_TIERS_GB", "[24, 80]")
    assert all_queues(Settings()) == ["evaluations-24g", "evaluations-80g"]
    monkeypatch.delenv("QUEUE_MEMORY_TIERS_GB")
    monkeypatch.setenv("WORKER_CLASSES", '["1x24", "8x80"]')
    assert all_queues(Settings()) == ["evaluations-24g", "evaluations-8x80g"]


def test_a_worker_told_its_gpus_shows_the_evaluations_only_those(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    limit_visible_gpus(WorkerSettings(worker_gpus=4))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,6")  # the operator's own choice wins
    limit_visible_gpus(WorkerSettings(worker_gpus=4))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,6"
