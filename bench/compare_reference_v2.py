"""RewardBench 2, prompt for prompt: our engine against the upstream `rewardbench` package's own functions.

For each tiny model (tests/support/tiny_models.py, the same cases as compare_reference.py) and max_length:

1. ours: ``rewardboard evaluate MODEL --benchmark rewardbench-v2 --dataset FILE --dtype float32 --device cpu``
   (the engine command, run in-process: per-example and results files), plus worker.engine.formatting for
   our texts and token ids; Ties under both scoring versions (rbv2-head, rbv2-0.1.4) from our scores;
2. upstream scoring of OUR scores: bench/reference_glue_v2.py ``score`` under ``--reference-python``:
   0.1.4's ``reroll_and_score_dataset`` for per-prompt results, run_v2.py's per-subset loop, and Ties by
   0.1.4's ``process_single_model`` and by upstream HEAD's (its ``rewardbench/utils.py`` read from
   ``--upstream-repo``, a git directory, at ``--upstream-rev``);
3. upstream's pipeline on the same model: reference_glue_v2.py ``pipeline`` (run_v2.py's steps with the
   0.1.4 defaults, CPU fp32): texts, token ids, double-BOS flags, scores, results and subset values.

It prints one row per case: per-prompt results and subset values against (2) (must agree to 1e-9), and
inputs, scores and results against (3). Exit status 1 when any case disagrees.

``--write-golden FILE`` also writes the committed fixture tests/data/rewardbench2_golden.json: upstream's
results (step 2) for hand-written edge-case scores and for the scores of some of the models, with provenance.

    python bench/compare_reference_v2.py --reference-python REF/bin/python --upstream-repo MIRROR \\
        [--dataset FILE] [--cases ...] [--work-dir DIR] [--write-golden tests/data/rewardbench2_golden.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_reference import CASES as MODEL_CASES  # noqa: E402
from compare_reference import build_models  # noqa: E402

GLUE = Path(__file__).resolve().parent / "reference_glue_v2.py"
DEFAULT_DATA = REPO / "tests" / "data" / "rewardbench2_sample.jsonl"
TOLERANCE = 1e-9
# Models whose scores go into the golden fixture (the unit test rebuilds the first one and evaluates it).
GOLDEN_MODELS = ("llama-template", "gpt2-tulu")

Key = tuple[str, str]


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # a compare_reference.py model case
    max_length: int = 2048


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("llama-template", "llama-template"),
        Case("llama-tulu", "llama-tulu"),
        Case("llama-tulu-llamatok", "llama-tulu-llamatok"),
        Case("llama-bos", "llama-bos"),
        Case("gpt2-tulu", "gpt2-tulu"),
        Case("llama-template@40", "llama-template", 40),  # some texts cut on the tokenizer's side (right)
        Case("llama-tulu-llamatok@40", "llama-tulu-llamatok", 40),  # cut, then EOS
    )
}

# Hand-written scores for every prompt of the committed sample, chosen for the rules' edge cases: top ties
# of 2, 3 and 4 (all equal), a top tie without the first answer, -0.0 == 0.0, float rounding (0.1 + 0.2),
# and in Ties: a normal pair (1), a zero spread with a positive (2) and a negative (4) minimum gap, 0/0 (3),
# and a ref and a tied prompt without their partner (5, 6).
EDGE_SCORES: dict[str, list[float]] = {
    "1001": [2, 1, 0, 0],
    "1002": [1, 1, 0, 0],
    "1003": [0, 1, 0, 0],
    "2001": [3, 1, 3, 3],
    "2002": [0.5, 2, 2, 0.5],
    "2003": [1, 1, 1, 1],
    "3001": [-1e-3, -2e-3, -1e-3, -5],
    "3002": [1e9, 1e9, 0, 0],
    "3003": [0.1 + 0.2, 0.3, 0, 0],
    "4001": [-0.0, 0.0, -1, -1],
    "4002": [5, 4, 3, 2],
    "4003": [0, 0, 0, 1],
    "5001": [2, 2, 2, 1],
    "5002": [1, 0.999999999, 0, 0],
    "5003": [7, 7, 7, 7],
    "ref:1": [3, 1, 2, 0, 0.5],
    "tied:1": [2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 1.5, 1, 0, 0, 0.5, 1.2, 1.4],
    "ref:2": [1, 0, 0, 0],
    "tied:2": [2, 2, 2, 1, 0.5, 0, 0],
    "ref:3": [1, 1, 1],
    "tied:3": [1, 1, 1, 1],
    "ref:4": [0, 1, 0, 0, 0],
    "tied:4": [3, 3, 3, 3, 3, 3, 3, 1, 0, 0, 0, 0],
    "ref:5": [2, 1, 0, 0],
    "tied:6": [1, 1.5, 2, 3, 0, 0, 0],
}


@dataclass
class Agreement:
    case: str
    prompts: int = 0
    # Upstream's functions on our scores.
    results_equal: int = 0
    values_max_diff: float = 0.0
    ties_diff: dict[str, float] = field(default_factory=dict)
    # Upstream's pipeline on the same model.
    candidates: int = 0
    texts_equal: int = 0
    ids_equal: int = 0
    mask_equal: int = 0
    max_abs_score_diff: float = 0.0
    pipeline_results_equal: int = 0
    pipeline_values_max_diff: float = 0.0
    best_of_n_prompts: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scoring_agrees(self) -> bool:
        return (
            self.best_of_n_prompts > 0
            and self.results_equal == self.best_of_n_prompts
            and self.values_max_diff <= TOLERANCE
            and all(diff <= TOLERANCE for diff in self.ties_diff.values())
            and set(self.ties_diff) == {"head", "0.1.4"}
        )

    @property
    def pipeline_agrees(self) -> bool:
        n = self.candidates
        return (
            n > 0
            and self.texts_equal == self.ids_equal == self.mask_equal == n
            and self.max_abs_score_diff <= 1e-4
            and self.pipeline_results_equal == self.best_of_n_prompts
        )


# ---------------------------------------------------------------------------------------------- ours


def run_ours(model: Path, dataset: Path, out: Path, max_length: int) -> tuple[dict[Key, dict[str, Any]], Any]:
    """The engine's ``evaluate`` command (in-process) and its two output files."""
    from worker.engine import cli_evaluate

    per_example, results = out / "ours.jsonl", out / "ours.json"
    parser = argparse.ArgumentParser(prog="rewardboard evaluate")
    cli_evaluate.add_arguments(parser, "evaluate")
    argv = [str(model), "--benchmark", "rewardbench-v2", "--dataset", str(dataset)]
    argv += ["--max-length", str(max_length), "--dtype", "float32", "--device", "cpu", "--no-progress"]
    argv += ["--per-example", str(per_example), "--output", str(results)]
    if cli_evaluate.run(parser.parse_args(argv)) != 0:
        raise RuntimeError(f"our evaluate failed on {model}")
    rows = {(row["subset"], row["id"]): row for row in _read_jsonl(per_example)}
    return rows, json.loads(results.read_text(encoding="utf-8"))


def our_ties(rows: dict[Key, dict[str, Any]]) -> dict[str, float]:
    """Ties from our per-example scores under both scoring versions."""
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.benchmarks.rewardbench_v2 import SCORING_V2_HEAD, SCORING_V2_WHEEL, TIES
    from worker.engine.types import ScoredExample

    benchmark = get_benchmark("rewardbench-v2")
    scored = [
        ScoredExample(row["subset"], row["id"], tuple(row["scores"]), row["num_correct"], row["outcome"])
        for row in rows.values()
        if row["subset"] == TIES
    ]
    return {
        rule: benchmark.subset_scores(scored, version)[TIES].value
        for rule, version in (("head", SCORING_V2_HEAD), ("0.1.4", SCORING_V2_WHEEL))
    }


def our_encodings(model: Path, dataset: Path, max_length: int) -> dict[Key, list[dict[str, Any]]]:
    """Our texts, token ids and double-BOS flags per candidate, as ClassifierAdapter.from_spec builds them."""
    from worker.engine.adapters.hf_loading import load_config, load_tokenizer, saved_tokenizer_class
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.dataset import load_dataset
    from worker.engine.formatting import Encoder, resolve_template, upstream_appends_eos

    benchmark = get_benchmark("rewardbench-v2")
    tokenizer = load_tokenizer(model, str(model))
    model_type = getattr(load_config(model, str(model)), "model_type", None)
    encoder = Encoder(
        tokenizer,
        resolve_template(tokenizer, "auto"),
        max_length,
        tulu_eos=upstream_appends_eos(saved_tokenizer_class(model), model_type),
        truncation_side=benchmark.truncation_side,
    )
    encoded: dict[Key, list[dict[str, Any]]] = {}
    for example in load_dataset(benchmark, str(dataset)).examples:
        texts = encoder.texts(example.conversation, example.candidates)
        encoded[(example.subset, str(example.id))] = [
            {"text": text, "ids": list(item.ids), "mask_first": item.mask_first}
            for text, item in zip(texts, encoder.encode(texts), strict=True)
        ]
    return encoded


# ---------------------------------------------------------------------------------------------- reference


def run_glue(python: str, command: list[str], out: Path, log: Path) -> dict[str, Any]:
    with log.open("w") as stderr:
        subprocess.run(
            [python, str(GLUE), *command, "--out", str(out)], check=True, stdout=stderr, stderr=stderr
        )
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def upstream_scoring(
    python: str, rows: Sequence[dict[str, Any]], head_utils: Path, work: Path, name: str
) -> dict[str, Any]:
    scores = work / f"{name}.scores.jsonl"
    scores.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    command = ["score", "--scores", str(scores), "--head-utils", str(head_utils)]
    return run_glue(python, command, work / f"{name}.upstream.json", work / f"{name}.upstream.log")


def head_utils_file(repo: Path, revision: str, work: Path) -> tuple[Path, str]:
    """Upstream HEAD's rewardbench/utils.py out of a git directory, and the commit it came from."""
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", revision], capture_output=True, text=True, check=True
    ).stdout.strip()
    source = subprocess.run(
        ["git", "-C", str(repo), "show", f"{commit}:rewardbench/utils.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = work / "upstream_head_utils.py"
    path.write_text(source, encoding="utf-8")
    return path, commit


# ---------------------------------------------------------------------------------------------- compare


def compare_scoring(
    agreement: Agreement, ours: dict[Key, dict[str, Any]], our_results: Any, ref: Any
) -> None:
    """Upstream's functions applied to our scores against our own decisions and values."""
    ties = our_ties(ours)
    best_of_n = {key: row for key, row in ours.items() if row["outcome"] is not None}
    agreement.prompts, agreement.best_of_n_prompts = len(ours), len(best_of_n)
    upstream = {(p["subset"], p["id"]): p["result"] for p in ref["prompts"]}
    for key, row in best_of_n.items():
        if abs(row["outcome"] - upstream[key]) <= TOLERANCE:
            agreement.results_equal += 1
        else:
            agreement.disagreements.append(
                {"kind": "result", "key": key, "ours": row, "upstream": upstream[key]}
            )
    agreement.values_max_diff = max(abs(our_results[name] - value) for name, value in ref["values"].items())
    agreement.ties_diff = {rule: abs(ties[rule] - ref["ties"][rule]) for rule in ref["ties"]}
    if abs(our_results["Ties"] - ties["head"]) > TOLERANCE:
        raise RuntimeError("results.json's Ties is not the rbv2-head value of the per-example scores")


def compare_pipeline(
    agreement: Agreement,
    ours: dict[Key, dict[str, Any]],
    our_results: Any,
    encodings: dict[Key, list[dict[str, Any]]],
    ref: Any,
) -> None:
    """Upstream's own pipeline on the same model: inputs per candidate, scores, results, values."""
    agreement.settings, agreement.versions = ref["settings"], ref["versions"]
    by_prompt: dict[Key, list[dict[str, Any]]] = {}
    for candidate in ref["candidates"]:
        by_prompt.setdefault((candidate["subset"], str(candidate["id"])), []).append(candidate)
    if set(by_prompt) != set(ours):
        raise RuntimeError(f"{agreement.case}: the two sides scored different prompts")
    for key, theirs in by_prompt.items():
        mine = encodings[key]
        for index, (our_input, their_input) in enumerate(zip(mine, theirs, strict=True)):
            agreement.candidates += 1
            same = (
                our_input["text"] == their_input["text"],
                our_input["ids"] == their_input["ids"],
                our_input["mask_first"] == their_input["mask_first"],
            )
            agreement.texts_equal += same[0]
            agreement.ids_equal += same[1]
            agreement.mask_equal += same[2]
            diff = abs(ours[key]["scores"][index] - their_input["score"])
            agreement.max_abs_score_diff = max(agreement.max_abs_score_diff, diff)
            if not all(same):
                agreement.disagreements.append(
                    {"kind": "input", "key": key, "candidate": index, "text_ours": our_input["text"],
                     "text_upstream": their_input["text"], "ids_ours": our_input["ids"],
                     "ids_upstream": their_input["ids"]}
                )  # fmt: skip
    upstream = {(p["subset"], str(p["id"])): p["result"] for p in ref["prompts"]}
    agreement.pipeline_results_equal = sum(
        abs(row["outcome"] - upstream[key]) <= TOLERANCE
        for key, row in ours.items()
        if row["outcome"] is not None
    )
    values = {**ref["values"], "Ties": ref["ties"]["head"]}
    agreement.pipeline_values_max_diff = max(abs(our_results[name] - value) for name, value in values.items())


# ---------------------------------------------------------------------------------------------- golden


def golden_scenario(name: str, source: str, rows: list[dict[str, Any]], ref: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "rows": rows,
        "upstream": {
            "results": {
                f"{p['subset']}/{p['id']}": p["result"] for p in ref["prompts"] if p["subset"] != "Ties"
            },
            "values": ref["values"],
            "ties": ref["ties"],
        },
    }


def write_golden(
    path: Path, dataset: Path, commit: str, scenarios: list[dict[str, Any]], versions: Any
) -> None:
    document = {
        "description": (
            "RewardBench 2 scoring by upstream's own functions, for tests/engine/test_rewardbench_v2.py. "
            "Per scenario: candidate scores for every prompt of the sample file (rows), and what upstream "
            "made of them: per-prompt results of rewardbench 0.1.4's reroll_and_score_dataset (best-of-N "
            "subsets; Ties prompts have none), per-subset values of run_v2.py's loop, and the Ties value of "
            "process_single_model in the 0.1.4 wheel and at upstream HEAD."
        ),
        "provenance": {
            "generated_by": "bench/compare_reference_v2.py --write-golden (reference side: "
            "bench/reference_glue_v2.py score)",
            "reference_package": versions,
            "upstream_head_commit": commit,
            "functions": [
                "rewardbench.utils.reroll_and_score_dataset (0.1.4)",
                "rewardbench.utils.process_single_model (0.1.4)",
                "rewardbench/utils.py process_single_model (upstream HEAD)",
            ],
        },
        "dataset": {
            "file": str(dataset.relative_to(REPO)) if dataset.is_relative_to(REPO) else dataset.name,
            "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest(),
        },
        "scenarios": scenarios,
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _score_rows(rows: dict[Key, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"subset": row["subset"], "id": row["id"], "num_correct": row["num_correct"], "scores": row["scores"]}
        for row in rows.values()
    ]


def _edge_rows(dataset: Path) -> list[dict[str, Any]]:
    rows = []
    for line in _read_jsonl(dataset):
        scores = [float(score) for score in EDGE_SCORES[line["id"]]]
        if len(scores) != line["total_completions"]:
            raise RuntimeError(f"edge-case scores of {line['id']} do not match its answers")
        rows.append(
            {"subset": line["subset"], "id": line["id"], "num_correct": line["num_correct"], "scores": scores}
        )
    return rows


# ---------------------------------------------------------------------------------------------- report


def print_table(rows: Sequence[Agreement]) -> None:
    header = (
        f"{'case':<24} {'prompts':>7} {'results':>8} {'values':>8} {'Ties head':>9} {'Ties 0.1.4':>10} | "
        f"{'texts':>7} {'ids':>7} {'2xBOS':>7} {'max|dS|':>8} {'results':>8} {'values':>8} "
        f"{'scoring':>7} {'pipeline':>8}"
    )
    print(header)
    print("-" * len(header))
    for a in rows:
        n, c, b = a.prompts, a.candidates, a.best_of_n_prompts
        head, wheel = a.ties_diff.get("head", float("nan")), a.ties_diff.get("0.1.4", float("nan"))
        print(
            f"{a.case:<24} {n:>7} {a.results_equal:>4}/{b:<3} {a.values_max_diff:>8.1e} "
            f"{head:>9.1e} {wheel:>10.1e} | "
            f"{a.texts_equal:>3}/{c:<3} {a.ids_equal:>3}/{c:<3} {a.mask_equal:>3}/{c:<3} "
            f"{a.max_abs_score_diff:>8.1e} {a.pipeline_results_equal:>4}/{b:<3} "
            f"{a.pipeline_values_max_diff:>8.1e} "
            f"{'agree' if a.scoring_agrees else 'DIFF':>7} {'agree' if a.pipeline_agrees else 'DIFF':>8}"
        )
    print(
        "Left of |: upstream's functions on our scores. results: best-of-N prompts whose result\n"
        "(1/k for a k-way top tie) equals reroll_and_score_dataset's within 1e-9; values: largest\n"
        "subset-value difference; Ties head / 0.1.4: |ours - process_single_model| under rbv2-head /\n"
        "rbv2-0.1.4. Right of |: upstream's run_v2 pipeline on the same model. texts, ids, 2xBOS:\n"
        "candidates whose text, token ids and double-BOS mask are equal; max|dS|: largest score\n"
        "difference; results, values: as left (Ties: HEAD's formula), from upstream's own scores."
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", required=True, help="python of the venv with `rewardbench`")
    parser.add_argument(
        "--upstream-repo", type=Path, required=True, help="git directory of allenai/reward-bench"
    )
    parser.add_argument("--upstream-rev", default="HEAD", help="its revision for HEAD's Ties (default HEAD)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep models and outputs here")
    parser.add_argument("--report", type=Path, default=None, help="write agreement details as JSON")
    parser.add_argument("--write-golden", type=Path, default=None, help="write the golden fixture here")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    dataset = args.dataset.resolve()
    with tempfile.TemporaryDirectory(prefix="rb2-compare-") as tmp:
        root = (args.work_dir or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        head_utils, commit = head_utils_file(args.upstream_repo, args.upstream_rev, root)
        models = build_models(sorted({CASES[name].model for name in names}), root)
        print(f"built {len(models)} models in {time.perf_counter() - started:.1f} s under {root}", flush=True)
        rows: list[Agreement] = []
        scenarios: list[dict[str, Any]] = []
        edge = _edge_rows(dataset)
        edge_ref = upstream_scoring(args.reference_python, edge, head_utils, root, "edge-cases")
        scenarios.append(golden_scenario("edge-cases", "hand-written scores (EDGE_SCORES)", edge, edge_ref))
        for name in names:
            case = CASES[name]
            ours_dir, ref_dir = models[case.model]
            out = root / f"{name}.out"
            out.mkdir(exist_ok=True)
            t0 = time.perf_counter()
            ours, our_results = run_ours(ours_dir, dataset, out, case.max_length)
            encodings = our_encodings(ours_dir, dataset, case.max_length)
            t1 = time.perf_counter()
            score_rows = _score_rows(ours)
            scoring = upstream_scoring(args.reference_python, score_rows, head_utils, out, "scoring")
            command = ["pipeline", "--model", str(ref_dir), "--dataset", str(dataset)]
            command += ["--max-length", str(case.max_length), "--head-utils", str(head_utils)]
            pipeline = run_glue(args.reference_python, command, out / "pipeline.json", out / "pipeline.log")
            t2 = time.perf_counter()
            agreement = Agreement(case=name)
            compare_scoring(agreement, ours, our_results, scoring)
            compare_pipeline(agreement, ours, our_results, encodings, pipeline)
            rows.append(agreement)
            if case.model in GOLDEN_MODELS and case.max_length == 2048:
                model_case = MODEL_CASES[case.model]
                template = "PLAIN_TEMPLATE" if model_case.template else None
                source = (
                    f"scores of our engine for the tiny model '{case.model}' (tests/support/tiny_models.py: "
                    f"build_tokenizer(), build_tiny_classifier(arch={model_case.arch!r}, "
                    f"seed={model_case.seed}, chat_template={template}))"
                )
                scenarios.append(golden_scenario(case.model, source, score_rows, scoring))
            print(
                f"{name}: ours {t1 - t0:.1f} s, reference {t2 - t1:.1f} s ({pipeline['settings']}), "
                f"{len(agreement.disagreements)} disagreements",
                flush=True,
            )
        print()
        versions = rows[0].versions if rows else {}
        print(f"dataset {dataset}; reference {versions}; upstream HEAD {commit}")
        print_table(rows)
        if args.report is not None:
            args.report.write_text(json.dumps([a.__dict__ for a in rows], indent=1, default=str) + "\n")
        if args.write_golden is not None:
            write_golden(args.write_golden, dataset, commit, scenarios, versions)
            print(f"golden values written to {args.write_golden}")
    return 0 if rows and all(a.scoring_agrees and a.pipeline_agrees for a in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
