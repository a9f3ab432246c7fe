"""Routing by memory and the time limits of each kind (no broker)."""

from __future__ import annotations

from app.config import Settings
from app.services.queues import queue_for, queues_within, route, time_limit_s
from app.services.run_spec import RunConfig
from worker.settings import WorkerSettings, worker_queues

GB = 1024**3
SETTINGS = Settings(queue_memory_tiers_gb=[16, 4, 80], eval_time_limit_s=3600, eval_max_time_limit_s=36_000)


def config(model_type: str, **settings: object) -> RunConfig:
    return RunConfig(
        benchmark="rewardbench-v1", model_type=model_type, kind_settings=settings, max_length=2048
    )


def test_a_run_goes_to_the_smallest_queue_that_holds_it() -> None:
    assert queue_for(3 * GB, SETTINGS) == "evaluations-4g"
    assert queue_for(4 * GB, SETTINGS) == "evaluations-4g"
    assert queue_for(4 * GB + 1, SETTINGS) == "evaluations-16g"
    assert queue_for(81 * GB, SETTINGS) is None
    assert queues_within(24, SETTINGS) == ["evaluations-4g", "evaluations-16g"]
    assert queues_within(2, SETTINGS) == ["evaluations-4g"]  # a small device still takes the smallest tier
    assert queues_within(141, SETTINGS) == ["evaluations-4g", "evaluations-16g", "evaluations-80g"]


def test_time_limits_scale_with_the_kind_and_are_capped() -> None:
    assert time_limit_s(config("classifier"), SETTINGS) == 3600
    dpo = time_limit_s(config("dpo", reference_model="org/sft"), SETTINGS)
    assert 3600 < dpo < 36_000
    assert time_limit_s(config("judge-rubric"), SETTINGS) == 36_000  # 40 x the classifier limit, capped
    short = time_limit_s(config("judge-pairwise", max_new_tokens=64), SETTINGS)
    assert 3600 <= short < time_limit_s(config("judge-pairwise"), SETTINGS)
    legacy = route(config("classifier"), None, SETTINGS)  # a submission stored before routing existed
    assert legacy.queue == "evaluations-4g" and legacy.soft_time_limit_s < legacy.time_limit_s


def test_a_worker_takes_the_queues_of_its_memory() -> None:
    worker = WorkerSettings(queue_memory_tiers_gb=[4, 16, 80], worker_memory_gb=20)
    assert worker_queues(worker) == ["evaluations-4g", "evaluations-16g"]
    detected = worker_queues(WorkerSettings(queue_memory_tiers_gb=[4, 16, 80]))
    assert detected[0] == "evaluations-4g"
