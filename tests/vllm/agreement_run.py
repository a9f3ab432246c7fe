"""Run the judge cases through ``python -m worker.engine evaluate`` twice each, on vLLM and on transformers,
and write everything both backends saw and said as JSON. Runs in the vLLM venv (``tests/support/vllm_env``),
in a process of Celery's prefork pool (billiard's), as the worker's evaluations run:

    .venv-vllm/bin/python tests/vllm/agreement_run.py JUDGE_DIR OUT_DIR

Every run goes through the command line (``EVAL_GENERATION_BACKEND=vllm`` chooses vLLM; the transformers
runs pass ``--generation-backend transformers``, which wins over it). One vLLM engine serves every case:
``vllm.LLM`` is wrapped so that a second construction with the same arguments returns the first engine
(each start costs most of a minute). The generators and the judge adapter are wrapped to record, never to
change: the prompt ids each backend was given, the ids vLLM reports it ran, each answer's tokens, text and
finish, and each example's scores and detail. Last, vLLM is given one prompt as rendered text, the way a
text-prompt path would send it, to record the ids it tokenises that text into.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

DATA: Final = Path(__file__).resolve().parents[1] / "data"
BACKENDS: Final = ("vllm", "transformers")
# name -> (model type, benchmark, data file, options)
CASES: Final[dict[str, tuple[str, str, str, list[str]]]] = {
    "pairwise-v1": (
        "judge-pairwise", "rewardbench-v1", "rewardbench_sample.jsonl",
        ["--both-orders", "--limit-per-subset", "2"],
    ),
    "rubric-v1": ("judge-rubric", "rewardbench-v1", "rewardbench_sample.jsonl", ["--limit-per-subset", "2"]),
    "ratings-v2": ("judge-pairwise", "rewardbench-v2", "rewardbench2_sample.jsonl", ["--score-with-ratings"]),
    "four-way-v2": ("judge-pairwise", "rewardbench-v2", "rewardbench2_sample.jsonl", ["--both-orders"]),
}  # fmt: skip
SEED: Final = "7"
MAX_NEW_TOKENS: Final = "4"

Recorded = dict[str, Any]


class Recorder:
    """What the wrapped engine pieces saw, for the run in progress."""

    def __init__(self) -> None:
        self.run: Recorded = {}
        self.engines: dict[str, Any] = {}  # the vLLM engines started, by their arguments

    def start(self) -> None:
        self.run = {"prompts": [], "answers": [], "vllm_prompt_ids": [], "examples": []}


def install_recorders(recorder: Recorder) -> None:
    import vllm

    from worker.engine.adapters.judge import JudgeAdapter
    from worker.engine.judging.generation import TransformersGenerator
    from worker.engine.judging.vllm_backend import VllmGenerator

    engines = recorder.engines
    real_llm = vllm.LLM

    def shared_llm(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, sorted(kwargs.items())))
        if key not in engines:
            engine = real_llm(*args, **kwargs)
            engines[key] = engine
            engine_generate = engine.generate

            def generate(prompts: Any, *more: Any, **options: Any) -> Any:
                outputs = engine_generate(prompts, *more, **options)
                recorder.run["vllm_prompt_ids"].extend(list(out.prompt_token_ids) for out in outputs)
                return outputs

            engine.generate = generate
        return engines[key]

    vllm.LLM = shared_llm
    for generator in (TransformersGenerator, VllmGenerator):
        generator.generate = _recording_generate(generator.generate, recorder)  # type: ignore[method-assign]
    score_with_detail = JudgeAdapter.score_with_detail

    def recording_score(self: Any, examples: Sequence[Any], progress: Any = None) -> Any:
        results = score_with_detail(self, examples, progress)
        recorder.run["examples"] = [
            {"key": f"{example.subset}/{example.id}", "scores": list(result.scores), "detail": result.detail}
            for example, result in zip(examples, results, strict=True)
        ]
        return results

    JudgeAdapter.score_with_detail = recording_score  # type: ignore[method-assign]


def _recording_generate(generate: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
    def recording(self: Any, prompts: Sequence[tuple[int, ...]], on_batch: Any = None) -> Any:
        answers = generate(self, prompts, on_batch)
        recorder.run["prompts"].extend(list(prompt) for prompt in prompts)
        recorder.run["answers"].extend(
            {"tokens": list(answer.tokens), "text": answer.text, "finish": answer.finish}
            for answer in answers
        )
        return answers

    return recording


def evaluate_arguments(judge: Path, case: str, backend: str, out: Path) -> list[str]:
    model_type, benchmark, data, options = CASES[case]
    arguments = [
        "evaluate", str(judge), "--model-type", model_type, "--benchmark", benchmark,
        "--dataset", str(DATA / data), "--device", "cpu", "--dtype", "float32", "--seed", SEED,
        "--max-new-tokens", MAX_NEW_TOKENS, "--no-progress",
        "--output", str(out / f"{case}-{backend}.json"),
        "--per-example", str(out / f"{case}-{backend}.jsonl"),
        *options,
    ]  # fmt: skip
    if backend == "transformers":
        arguments += ["--generation-backend", "transformers"]
    return arguments


def text_prompt_ids(recorder: Recorder, judge: Path, prompt: Sequence[int]) -> list[int]:
    """The ids vLLM runs when given ``prompt`` as its rendered text (re-tokenised, special tokens added)."""
    import vllm
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(judge)
    text = tokenizer.decode(list(prompt), skip_special_tokens=False)
    (engine,) = recorder.engines.values()
    params = vllm.SamplingParams(max_tokens=1, temperature=0.0)
    (output,) = engine.generate([text], sampling_params=params, use_tqdm=False)
    return list(output.prompt_token_ids)


def main(argv: Sequence[str]) -> int:
    judge, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    os.environ["EVAL_GENERATION_BACKEND"] = "vllm"
    recorder = Recorder()
    install_recorders(recorder)
    from worker.engine.__main__ import main as engine_main

    report: dict[str, Any] = {"cases": {}, "daemon": multiprocessing.current_process().daemon}
    for case in CASES:
        report["cases"][case] = {}
        for backend in BACKENDS:
            recorder.start()
            code = engine_main(evaluate_arguments(judge, case, backend, out))
            report["cases"][case][backend] = {"exit_code": code, **recorder.run}
    if len(recorder.engines) != 1:
        raise SystemExit(f"expected one vLLM engine for every case, started {len(recorder.engines)}")
    first_prompt = report["cases"]["pairwise-v1"]["vllm"]["prompts"][0]
    recorder.start()  # the text prompt below is no case's
    text_ids = text_prompt_ids(recorder, judge, first_prompt)
    report["text_prompt"] = {"engine_ids": first_prompt, "text_ids": text_ids}
    (out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return 0


def in_worker_pool(argv: Sequence[str]) -> int:
    """``main`` in a process of billiard's pool (Celery's prefork pool): a daemon, as the worker's tasks."""
    from billiard.pool import Pool

    with Pool(1) as pool:
        code: int = pool.apply(main, (list(argv),))
    return code


if __name__ == "__main__":
    sys.exit(in_worker_pool(sys.argv[1:]))
