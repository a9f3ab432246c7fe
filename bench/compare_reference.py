"""Pair-for-pair agreement of `rewardboard evaluate` with the upstream `rewardbench` package, on CPU in fp32.

For each tiny model (built here with tests/support/tiny_models.py) this script
1. runs our engine: `python -m worker.engine evaluate MODEL --dataset FILE --dtype float32 --device cpu` (the
   command modules of `rewardboard evaluate`, without the web app; per-example and
   results files), plus worker.engine.formatting for our rendered texts and token ids;
2. runs the reference: bench/reference_glue.py under ``--reference-python`` (a separate venv with PyPI's
   `rewardbench` and the transformers it pins), which calls the package's own formatting, pipeline and
   aggregation the way its scripts/run_rm.py does (max_length 2048, left truncation, padding, pad-token
   fallback, double-BOS guard), forced onto CPU, fp32, no 8-bit;
3. compares texts, token ids, the double-BOS flag, every decision, scores (max abs diff), per-subset
   accuracies, sections and Score, and prints one row per model. Exit status 1 when any model disagrees.

The models are saved by transformers 5; the reference loads a copy whose tokenizer_config.json names a class
transformers 4.51 knows (``TokenizersBackend`` -> ``PreTrainedTokenizerFast``, or ``LlamaTokenizerFast`` for
the ``-llamatok`` variant) and lists ``model_input_names`` (without it 4.51 sends ``token_type_ids`` to the
model). Weights, vocabulary, merges and chat template are the same files.

    python bench/compare_reference.py --reference-python /tmp/rbref/bin/python \\
        [--dataset FILE] [--models llama-template,llama-tulu,...] [--work-dir DIR] [--report FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.tiny_models import (  # noqa: E402
    BOS_TEMPLATE,
    PLAIN_TEMPLATE,
    UNK,
    build_tiny_classifier,
    build_tokenizer,
)

GLUE = Path(__file__).resolve().parent / "reference_glue.py"
DEFAULT_DATA = REPO / "tests" / "data" / "rewardbench_sample.jsonl"
SECTIONS = ("Chat", "Chat Hard", "Safety", "Reasoning")
PRIOR_SUBSETS = ("anthropic_helpful", "anthropic_hhh", "shp", "summarize")
DEFAULT_PRIOR = REPO / "tests" / "data" / "prior_sets_sample.jsonl"
GENERIC = "PreTrainedTokenizerFast"
LLAMA = "LlamaTokenizerFast"


@dataclass(frozen=True)
class ModelCase:
    name: str
    arch: str
    template: str | None
    seed: int
    reference_tokenizer_class: str
    note: str
    pad_token: str | None = None  # a pad token of its own (both sides); None: none, so it falls back to EOS
    config_pad_id: int | None = None  # the config's pad_token_id while the tokenizer has no pad token
    padding_side: str | None = None  # saved in tokenizer_config.json
    # "pinned": the reference venv (transformers 4.51, as upstream pins); "newer": transformers 4.51 has no
    # classifier class for it, so upstream's package runs over a newer transformers
    # (--newer-reference-python), or the case is skipped.
    reference: Literal["pinned", "newer"] = "pinned"


# One case per architecture of the matrix (tests/support/tiny_models.CLASSIFIER_CONFIGS), tokenizer template.
MATRIX_SEEDS = {
    "llama": 11,
    "mistral": 12,
    "qwen2": 13,
    "qwen3": 14,
    "gemma2": 15,
    "gemma3": 16,
    "gpt2": 17,
    "gpt_neox": 18,
    "deberta-v2": 19,
    "phi3": 20,
    "olmo2": 21,
}


# Gemma-3's classifier came with transformers 4.53, OLMo-2's only with 5.x.
REFERENCE_FOR: dict[str, Literal["pinned", "newer"]] = {"gemma3": "newer", "olmo2": "newer"}

CASES: dict[str, ModelCase] = {
    case.name: case
    for case in (
        ModelCase("llama-template", "llama", PLAIN_TEMPLATE, 1, GENERIC, "tokenizer template"),
        ModelCase("llama-tulu", "llama", None, 2, GENERIC, "no template: Tulu (+EOS)"),
        ModelCase(
            "llama-tulu-llamatok", "llama", None, 2, LLAMA, "llama-tulu; the reference loads Llama's class"
        ),
        ModelCase("llama-bos", "llama", BOS_TEMPLATE, 3, GENERIC, "the template emits BOS: double BOS"),
        ModelCase("gpt2-tulu", "gpt2", None, 4, GENERIC, "GPT-2, no template"),
        ModelCase("llama-tulu-pad", "llama", None, 2, GENERIC, "llama-tulu with pad <unk>", pad_token=UNK),
        ModelCase(
            "llama-tulu-pad-llamatok", "llama", None, 2, LLAMA, "llama-tulu-pad, Llama's class", pad_token=UNK
        ),
        ModelCase(
            "llama1-pad0",
            "llama",
            None,
            5,
            LLAMA,
            "config pad_token_id 0, no tokenizer pad, Tulu + EOS",
            config_pad_id=0,
        ),
        ModelCase(
            "qwen2-left",
            "qwen2",
            PLAIN_TEMPLATE,
            6,
            GENERIC,
            "pad <|endoftext|> saved, left padding saved",
            padding_side="left",
        ),
        *(
            ModelCase(
                f"arch-{arch}",
                arch,
                PLAIN_TEMPLATE,
                seed,
                GENERIC,
                f"{arch}, tokenizer template",
                reference=REFERENCE_FOR.get(arch, "pinned"),
            )
            for arch, seed in MATRIX_SEEDS.items()
        ),
    )
}


@dataclass
class Agreement:
    model: str
    pairs: int = 0
    texts_equal: int = 0
    ids_equal: int = 0
    ids_equal_but_eos: int = 0
    ids_truncated_differently: int = 0
    mask_first_equal: int = 0
    decisions_equal: int = 0
    max_abs_diff: float = 0.0
    subsets_equal: bool = False
    sections_max_diff: float = 0.0
    score_ours: float = float("nan")
    score_ref: float = float("nan")
    seconds_ours: float = 0.0
    seconds_ref: float = 0.0
    reference: dict[str, Any] = field(default_factory=dict)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    atol: float = 1e-4

    @property
    def inputs_identical(self) -> bool:
        """Both sides fed the model the same texts, token ids and double-BOS masks for every pair."""
        n = self.pairs
        return n > 0 and self.texts_equal == n and self.ids_equal == n and self.mask_first_equal == n

    @property
    def outputs_agree(self) -> bool:
        """Every decision equal, every score within ``atol``, identical subset accuracies and sections."""
        return (
            self.pairs > 0
            and self.decisions_equal == self.pairs
            and self.max_abs_diff <= self.atol
            and self.subsets_equal
            and self.sections_max_diff == 0.0
        )

    @property
    def ok(self) -> bool:
        return self.inputs_identical and self.outputs_agree


# ---------------------------------------------------------------------------------------------- models


def build_models(names: Sequence[str], root: Path) -> dict[str, tuple[Path, Path]]:
    """Build each named model (ours) and its transformers-4.51-loadable copy (reference)."""
    base = build_tokenizer()
    # transformers 5 rebuilds any Qwen2 checkpoint's tokenizer with Qwen2's pre-tokenizer and pad token.
    qwen2_base = build_tokenizer(qwen2=True) if any(CASES[name].arch == "qwen2" for name in names) else None
    built: dict[str, tuple[Path, Path]] = {}
    for name in names:
        case = CASES[name]
        tokenizer = copy.deepcopy(qwen2_base if case.arch == "qwen2" and qwen2_base else base)
        tokenizer.chat_template = case.template
        ours = build_tiny_classifier(
            root / name,
            arch=case.arch,
            chat_template=case.template,
            seed=case.seed,
            tokenizer=tokenizer,
            pad_token_id=case.config_pad_id,
        )
        if case.padding_side is not None:
            _edit_json(ours / "tokenizer_config.json", "padding_side", case.padding_side)
        if case.reference_tokenizer_class == GENERIC:
            # Name the generic class on our side too (transformers 5 loads it as its TokenizersBackend), so
            # both sides see the same tokenizer_config; the -llamatok cases keep the class transformers 5
            # saved, which our engine maps through the model type, as 4.51's AutoTokenizer would.
            _edit_json(ours / "tokenizer_config.json", "tokenizer_class", GENERIC)
        if case.pad_token is not None:
            pad_id = tokenizer.convert_tokens_to_ids(case.pad_token)
            assert isinstance(pad_id, int)
            set_pad_token(ours, case.pad_token, pad_id)
        built[name] = (ours, reference_copy(ours, root / f"{name}.ref", case.reference_tokenizer_class))
    return built


def set_pad_token(path: Path, token: str, token_id: int) -> None:
    """Give a saved checkpoint a pad token of its own, in the tokenizer and in the model config."""
    _edit_json(path / "tokenizer_config.json", "pad_token", token)
    _edit_json(path / "config.json", "pad_token_id", token_id)


def _edit_json(file: Path, key: str, value: Any) -> None:
    document = json.loads(file.read_text(encoding="utf-8"))
    document[key] = value
    file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def reference_copy(source: Path, target: Path, tokenizer_class: str) -> Path:
    """The same checkpoint with a tokenizer_config.json that transformers 4.51 can load."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("backend", None)
    config["tokenizer_class"] = tokenizer_class
    config["model_input_names"] = ["input_ids", "attention_mask"]
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------------- runs


def run_ours(
    model: Path, dataset: Path, out: Path, prior_sets: Path | None = None
) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[str, Any]]:
    """``rewardboard evaluate`` (the engine's command module, in-process) and its two output files."""
    from worker.engine import cli_evaluate

    per_example, results = out / "ours.jsonl", out / "ours.json"
    parser = argparse.ArgumentParser(prog="rewardboard evaluate")
    cli_evaluate.add_arguments(parser, "evaluate")
    argv = [str(model), "--dataset", str(dataset), "--dtype", "float32", "--device", "cpu", "--no-progress"]
    argv += ["--per-example", str(per_example), "--output", str(results)]
    if prior_sets is not None:
        argv += ["--extra-part", f"prior-sets={prior_sets}"]
    if cli_evaluate.run(parser.parse_args(argv)) != 0:
        raise RuntimeError(f"our evaluate failed on {model}")
    rows = {(row["subset"], row["id"]): row for row in _read_jsonl(per_example)}
    return rows, json.loads(results.read_text(encoding="utf-8"))


def our_encodings(
    model: Path, dataset: Path, prior_sets: Path | None = None
) -> dict[tuple[str, int], dict[str, Any]]:
    """Our rendered texts and token ids per pair, through the engine's own formatting module."""
    from worker.engine.adapters.hf_loading import load_config, load_tokenizer, saved_tokenizer_class
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.dataset import load_dataset
    from worker.engine.formatting import Encoder, resolve_template, upstream_appends_eos

    tokenizer = load_tokenizer(model, str(model))
    # The EOS decision exactly as ClassifierAdapter.from_spec makes it.
    model_type = getattr(load_config(model, str(model)), "model_type", None)
    tulu_eos = upstream_appends_eos(saved_tokenizer_class(model), model_type)
    encoder = Encoder(tokenizer, resolve_template(tokenizer, "auto"), 2048, tulu_eos=tulu_eos)
    encoded: dict[tuple[str, int], dict[str, Any]] = {}
    extra = {"prior-sets": str(prior_sets)} if prior_sets is not None else None
    for pair in load_dataset(get_benchmark("rewardbench-v1"), str(dataset), extra_parts=extra).examples:
        texts = encoder.texts(pair.conversation, pair.candidates)
        chosen, rejected = encoder.encode(texts)
        assert isinstance(pair.id, int)  # RewardBench v1 ids are integers
        encoded[(pair.subset, pair.id)] = {
            "template": encoder.template,
            "texts": texts,
            "ids": [list(chosen.ids), list(rejected.ids)],
            "mask_first": [chosen.mask_first, rejected.mask_first],
            "eos": tokenizer.eos_token_id,
        }
    return encoded


def run_reference(
    python: str, model: Path, dataset: Path, out: Path, prior_sets: Path | None = None
) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[str, Any]]:
    pairs, summary = out / "ref.jsonl", out / "ref.json"
    command = [python, str(GLUE), "--model", str(model), "--dataset", str(dataset)]
    command += ["--out", str(pairs), "--summary", str(summary)]
    if prior_sets is not None:
        command += ["--prior-sets", str(prior_sets)]
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=(out / "ref.log").open("w"),
    )
    rows = {(row["subset"], row["id"]): row for row in _read_jsonl(pairs)}
    return rows, json.loads(summary.read_text(encoding="utf-8"))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------- compare


def compare(
    name: str,
    ours: dict[tuple[str, int], dict[str, Any]],
    our_results: dict[str, Any],
    encodings: dict[tuple[str, int], dict[str, Any]],
    ref: dict[tuple[str, int], dict[str, Any]],
    ref_summary: dict[str, Any],
    atol: float,
) -> Agreement:
    agreement = Agreement(model=name, reference=ref_summary, atol=atol)
    if set(ours) != set(ref) or set(ours) != set(encodings):
        raise RuntimeError(f"{name}: the two sides scored different pairs")
    agreement.pairs = len(ref)
    for key, r in ref.items():
        o, enc = ours[key], encodings[key]
        ref_texts = [r["text_chosen"], r["text_rejected"]]
        ref_ids = [r["ids_chosen"], r["ids_rejected"]]
        ref_mask = [r["mask_first_chosen"], r["mask_first_rejected"]]
        texts_equal = enc["texts"] == ref_texts
        ids_equal = enc["ids"] == ref_ids
        eos_only = not ids_equal and all(
            ours_ids == [*ref_side, enc["eos"]]
            for ours_ids, ref_side in zip(enc["ids"], ref_ids, strict=True)
        )
        decision_equal = bool(o["correct"]) == bool(r["result"])
        diff = max(abs(o["score_chosen"] - r["score_chosen"]), abs(o["score_rejected"] - r["score_rejected"]))
        agreement.texts_equal += texts_equal
        agreement.ids_equal += ids_equal
        agreement.ids_equal_but_eos += eos_only
        shifted = not ids_equal and not eos_only and _eos_or_shift(enc["ids"], ref_ids, enc["eos"])
        agreement.ids_truncated_differently += shifted
        agreement.mask_first_equal += enc["mask_first"] == ref_mask
        agreement.decisions_equal += decision_equal
        agreement.max_abs_diff = max(agreement.max_abs_diff, diff)
        if not (texts_equal and ids_equal and decision_equal):
            agreement.disagreements.append(
                {
                    "subset": key[0],
                    "id": key[1],
                    "texts_equal": texts_equal,
                    "ids_equal": ids_equal,
                    "ids_differ_only_by_trailing_eos": eos_only,
                    "ids_one_more_token_cut_and_eos": shifted,
                    "lengths_ours": [len(ids) for ids in enc["ids"]],
                    "lengths_ref": [len(ids) for ids in ref_ids],
                    "decision_ours": bool(o["correct"]),
                    "decision_ref": bool(r["result"]),
                    "score_ours": [o["score_chosen"], o["score_rejected"]],
                    "score_ref": [r["score_chosen"], r["score_rejected"]],
                }
            )
    ref_acc = ref_summary["accuracies"]
    our_acc = {subset: our_results[subset] for subset in ref_acc if subset in our_results}
    agreement.subsets_equal = our_acc == ref_acc
    ref_sections = ref_summary["sections"]
    agreement.sections_max_diff = max(abs(our_results["sections"][s] - ref_sections[s]) for s in SECTIONS)
    prior = [ref_acc[name] for name in PRIOR_SUBSETS if name in ref_acc]
    if prior:  # the leaderboard's Prior Sets: the plain mean of the four accuracies (run_rm.py has none)
        prior_diff = abs(our_results["sections"]["Prior Sets"] - sum(prior) / len(prior))
        agreement.sections_max_diff = max(agreement.sections_max_diff, prior_diff)
    agreement.score_ours = float(our_results["score"])
    agreement.score_ref = sum(ref_sections[s] for s in SECTIONS) / len(SECTIONS)
    return agreement


def _eos_or_shift(ours: list[list[int]], ref: list[list[int]], eos: int) -> bool:
    """Each side equal but for our trailing EOS, or (at max_length) also one more token cut after the BOS."""
    return all(o == [*r, eos] or o == [*r[:1], *r[2:], eos] for o, r in zip(ours, ref, strict=True))


def print_table(rows: Sequence[Agreement]) -> None:
    header = (
        f"{'model':<23} {'pairs':>5} {'texts':>9} {'ids':>9} {'ids+EOS':>7} {'+cut':>6} {'2xBOS':>9} "
        f"{'decisions':>9} {'max|dS|':>8} {'subsets':>7} {'Score ours':>10} {'Score ref':>10} "
        f"{'inputs':>6} {'outputs':>7}"
    )
    print(header)
    print("-" * len(header))
    for a in rows:
        n = a.pairs
        cells = [
            f"{a.model:<23} {n:>5}",
            f"{a.texts_equal:>4}/{n:<4} {a.ids_equal:>4}/{n:<4}",
            f"{a.ids_equal_but_eos:>7} {a.ids_truncated_differently:>6}",
            f"{a.mask_first_equal:>4}/{n:<4} {a.decisions_equal:>4}/{n:<4} {a.max_abs_diff:>8.1e}",
            f"{'same' if a.subsets_equal else 'DIFF':>7}",
            f"{100 * a.score_ours:>10.4f} {100 * a.score_ref:>10.4f}",
            f"{'same' if a.inputs_identical else 'DIFF':>6} {'agree' if a.outputs_agree else 'DIFF':>7}",
        ]
        print(" ".join(cells))
    print(
        "texts, ids, 2xBOS, decisions: pairs whose two rendered texts, two token-id lists, two double-BOS\n"
        "masks, decision agree; ids+EOS: pairs whose ids differ only by a trailing EOS on our side;\n"
        "+cut: pairs where a text at max_length also loses one more token on the left on our side;\n"
        "max|dS|: largest score difference; inputs: texts, ids and masks all equal; outputs: decisions,\n"
        "scores (within --atol), subset accuracies and sections all equal."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", required=True, help="python of the venv with `rewardbench`")
    parser.add_argument(
        "--newer-reference-python",
        default=None,
        help="python of a venv with `rewardbench` and a newer transformers installed over its pin (5.x "
        "for OLMo-2), "
        "for the architectures transformers 4.51 has no classifier for "
        f"({', '.join(arch for arch, where in REFERENCE_FOR.items() if where == 'newer')}); "
        "without it those cases are skipped",
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--prior-sets",
        default=str(DEFAULT_PRIOR),
        help="prior-sets rows (JSONL) scored too, multi-turn; '' for none (default: the committed sample)",
    )
    parser.add_argument(
        "--models", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="keep models and outputs here")
    parser.add_argument("--report", type=Path, default=None, help="write agreement details as JSON")
    parser.add_argument("--atol", type=float, default=1e-4, help="score tolerance (default 1e-4)")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    unscorable: list[str] = []
    if args.newer_reference_python is None:
        needs_newer = [name for name in names if CASES[name].reference == "newer"]
        if needs_newer:
            print(f"skipped (none in transformers 4.51; see --newer-reference-python): {needs_newer}")
        unscorable += needs_newer
    names = [name for name in names if name not in unscorable]
    dataset = args.dataset.resolve()
    prior_sets = Path(args.prior_sets).resolve() if args.prior_sets else None
    with tempfile.TemporaryDirectory(prefix="rb-compare-") as tmp:
        root = (args.work_dir or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        models = build_models(names, root)
        print(f"built {len(models)} models in {time.perf_counter() - started:.1f} s under {root}", flush=True)
        rows: list[Agreement] = []
        for name in names:
            ours_dir, ref_dir = models[name]
            out = root / f"{name}.out"
            out.mkdir(exist_ok=True)
            t0 = time.perf_counter()
            ours, our_results = run_ours(ours_dir, dataset, out, prior_sets)
            encodings = our_encodings(ours_dir, dataset, prior_sets)
            t1 = time.perf_counter()
            newer = CASES[name].reference == "newer"
            python = args.newer_reference_python if newer else args.reference_python
            ref, ref_summary = run_reference(python, ref_dir, dataset, out, prior_sets)
            t2 = time.perf_counter()
            agreement = compare(name, ours, our_results, encodings, ref, ref_summary, args.atol)
            agreement.seconds_ours, agreement.seconds_ref = t1 - t0, t2 - t1
            rows.append(agreement)
            print(
                f"{name}: ours {t1 - t0:.1f} s, reference {t2 - t1:.1f} s "
                f"({ref_summary['tokenizer_class']}, padding {ref_summary['padding_side']}, "
                f"template {ref_summary['chat_template']}), {len(agreement.disagreements)} pairs differ",
                flush=True,
            )
        print()
        print(f"dataset {dataset} ({rows[0].pairs if rows else 0} pairs); reference {_versions(rows)}")
        print_table(rows)
        if args.report is not None:
            args.report.write_text(
                json.dumps([_report(a) for a in rows], indent=2, default=str) + "\n",
                encoding="utf-8",
            )
    return 0 if all(a.ok for a in rows) else 1


def _report(a: Agreement) -> dict[str, Any]:
    return {**a.__dict__, "inputs_identical": a.inputs_identical, "outputs_agree": a.outputs_agree}


def _versions(rows: Sequence[Agreement]) -> str:
    if not rows:
        return "-"
    seen: dict[str, list[str]] = {}
    for row in rows:
        versions = row.reference.get("versions", {})
        seen.setdefault(", ".join(f"{k} {v}" for k, v in versions.items()), []).append(row.model)
    if len(seen) == 1:
        return next(iter(seen))
    return "; ".join(f"{versions} ({', '.join(models)})" for versions, models in seen.items())


if __name__ == "__main__":
    sys.exit(main())
