"""Pair-for-pair agreement of our DPO scoring with upstream's `run_dpo.py` logic, on CPU in float32.

For each case of tests/support/dpo_cases.py (a tiny policy and a different reference, or reference-free)
this script
1. runs our engine in this process (``run_evaluation`` with model type dpo / dpo-ref-free) and our
   tokenisation (``worker.engine.dpo_tokens``) on the v1 sample plus three rows past 2048 tokens;
2. runs the reference: bench/reference_glue_dpo.py under ``--reference-python`` (a separate venv with PyPI's
   `rewardbench`, its transformers and trl), which calls the package's DPOInference the way run_dpo.py does;
3. compares the token ids and label starts of every candidate, every decision, the rewards (max abs diff)
   and the subset accuracies, and prints one row per case. Exit status 1 when a case disagrees.

``--write-golden`` also writes tests/data/dpo_reference_golden.json (the reference's decisions, rewards and
token-id digests, and digests of the model files), which tests/engine/test_dpo_golden.py checks without the
reference venv.

    python bench/compare_dpo_reference.py --reference-python /path/to/rbref/bin/python [--write-golden]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.dpo_cases import (  # noqa: E402
    CASES,
    GOLDEN,
    BuiltCase,
    build_case,
    files_digest,
    ids_digest,
    write_dataset,
)

GLUE = Path(__file__).resolve().parent / "reference_glue_dpo.py"
# A reward is the difference of two float32 sums of up to 2048 token log-probabilities (magnitudes up to
# about 16,000, whose last bit is about 1e-3), accumulated in another order upstream.
ATOL = 2e-3
RTOL = 1e-6


def reference_copy(source: Path, target: Path) -> Path:
    """The checkpoint with a tokenizer_config.json that transformers 4.51 loads (its generic fast class)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("backend", None)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["model_input_names"] = ["input_ids", "attention_mask"]
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target


def run_reference(
    python: str, built: BuiltCase, dataset: Path, work: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out, summary = work / "reference.jsonl", work / "reference.json"
    command = [python, str(GLUE), "--policy", str(reference_copy(built.policy, work / "policy.ref"))]
    if built.reference is not None:
        command += ["--reference", str(reference_copy(built.reference, work / "reference.ref"))]
    else:
        command += ["--ref-free-type", built.case.normalization]
    command += ["--dataset", str(dataset), "--out", str(out), "--summary", str(summary)]
    subprocess.run(command, check=True, cwd=work, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, json.loads(summary.read_text(encoding="utf-8"))


def run_ours(
    built: BuiltCase, dataset: Path
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, float], float]:
    from worker.engine.adapters.dpo import upstream_tokenizer
    from worker.engine.adapters.hf_loading import load_tokenizer
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.dataset import load_dataset
    from worker.engine.dpo_tokens import candidate_sequences
    from worker.engine.formatting import resolve_template
    from worker.engine.runner import run_evaluation
    from worker.engine.spec import EvaluationSpec

    started = time.perf_counter()
    spec = EvaluationSpec(
        model=str(built.policy),
        model_type=built.case.model_type,
        kind_settings=built.case.kind_settings(built.reference),
        dataset=str(dataset),
        dtype="float32",
        device="cpu",
    )
    output = run_evaluation(spec)
    seconds = time.perf_counter() - started
    tokenizer = upstream_tokenizer(load_tokenizer(built.policy, "policy"), "policy")
    template = resolve_template(tokenizer, "auto")
    examples = {example.key: example for example in load_dataset(get_benchmark(), str(dataset)).examples}
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for scored in output.scored:
        example = examples[scored.key]
        chosen, rejected = candidate_sequences(
            tokenizer,
            template,
            example.conversation,
            example.candidates,
            bos_id=tokenizer.bos_token_id,
            eos_id=tokenizer.eos_token_id,
        )
        pairs[scored.key] = {
            "score_chosen": scored.scores[0],
            "score_rejected": scored.scores[1],
            "result": int(scored.outcome or 0),
            "ids_chosen": list(chosen.ids),
            "start_chosen": chosen.response_start,
            "ids_rejected": list(rejected.ids),
            "start_rejected": rejected.response_start,
        }
    accuracies = {name: score.value for name, score in output.result.subset_scores.items()}
    return pairs, accuracies, seconds


def compare(
    name: str, ours: dict[tuple[str, str], dict[str, Any]], reference: list[dict[str, Any]]
) -> dict[str, Any]:
    report: dict[str, Any] = {"case": name, "pairs": len(reference), "ids_equal": 0, "decisions_equal": 0,
                              "max_abs_diff": 0.0, "within_tolerance": True, "disagreements": []}  # fmt: skip
    for row in reference:
        mine = ours[(row["subset"], str(row["id"]))]
        same_ids = all(
            mine[key] == row[key] for key in ("ids_chosen", "ids_rejected", "start_chosen", "start_rejected")
        )
        report["ids_equal"] += same_ids
        report["decisions_equal"] += mine["result"] == row["result"]
        for side in ("score_chosen", "score_rejected"):
            report["max_abs_diff"] = max(report["max_abs_diff"], abs(mine[side] - row[side]))
            report["within_tolerance"] &= math.isclose(mine[side], row[side], rel_tol=RTOL, abs_tol=ATOL)
        if not same_ids or mine["result"] != row["result"]:
            report["disagreements"].append({"subset": row["subset"], "id": row["id"]})
    report["ok"] = (
        report["ids_equal"] == report["decisions_equal"] == report["pairs"] > 0
        and report["max_abs_diff"] <= ATOL
    )
    return report


def golden_case(built: BuiltCase, reference: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": built.case.name,
        "model_type": built.case.model_type,
        "normalization": built.case.normalization if built.reference is None else None,
        "policy_digest": files_digest(built.policy),
        "reference_digest": files_digest(built.reference) if built.reference is not None else None,
        "accuracies": summary["accuracies"],
        "pairs": [
            {
                "subset": row["subset"],
                "id": row["id"],
                "result": row["result"],
                "score_chosen": round(row["score_chosen"], 6),
                "score_rejected": round(row["score_rejected"], 6),
                "ids_chosen": ids_digest(row["ids_chosen"]),
                "start_chosen": row["start_chosen"],
                "ids_rejected": ids_digest(row["ids_rejected"]),
                "start_rejected": row["start_rejected"],
                "length_chosen": len(row["ids_chosen"]),
                "length_rejected": len(row["ids_rejected"]),
            }
            for row in reference
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", required=True, help="interpreter of the rewardbench venv")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--write-golden", action="store_true", help=f"write {GOLDEN.relative_to(REPO)}")
    args = parser.parse_args(argv)
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="dpo-compare-"))
    dataset = write_dataset(work / "data.jsonl")
    golden_cases = []
    all_ok = True
    header = ("case", "pairs", "ids", "decisions", "max |diff|", "ours s", "ref s")
    print("{:<15} {:>5} {:>5} {:>9} {:>11} {:>7} {:>7}  ok".format(*header))
    for name in args.cases.split(","):
        built = build_case(CASES[name], work / "models")
        reference, summary = run_reference(args.reference_python, built, dataset, (work / name).resolve())
        ours, accuracies, seconds = run_ours(built, dataset)
        report = compare(name, ours, reference)
        same_subsets = all(
            math.isclose(accuracies[s], v, abs_tol=1e-12) for s, v in summary["accuracies"].items()
        )
        ok = report["ok"] and same_subsets
        all_ok &= ok
        print(
            f"{name:<15} {report['pairs']:>5} {report['ids_equal']:>5} {report['decisions_equal']:>9} "
            f"{report['max_abs_diff']:>11.2e} {seconds:>7.1f} {summary['seconds']:>7.1f}  "
            + ("yes" if ok else "NO")
        )
        for item in report["disagreements"][:5]:
            print(f"    differs: {item}")
        golden_cases.append(golden_case(built, reference, summary))
        versions = summary["versions"]
    if args.write_golden:
        GOLDEN.write_text(
            json.dumps(
                {
                    "description": "DPO decisions of upstream's run_dpo.py logic (rewardbench DPOInference) "
                    "on tiny models, for tests/engine/test_dpo_golden.py. Per case: digests of the model "
                    "files, then per pair the reference's result, rewards (6 decimals) and digests of its "
                    "token ids.",
                    "generated_by": "bench/compare_dpo_reference.py --write-golden (reference side: "
                    "bench/reference_glue_dpo.py)",
                    "reference_versions": versions,
                    "dataset": "tests/data/rewardbench_sample.jsonl + tests/support/dpo_cases.py long_rows()",
                    "cases": golden_cases,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {GOLDEN.relative_to(REPO)}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
