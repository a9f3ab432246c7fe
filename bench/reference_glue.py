"""Reference side of bench/compare_reference.py: score one model with the installed upstream `rewardbench`.

Runs under the REFERENCE interpreter (a separate venv with PyPI's `rewardbench` and its pinned transformers),
never under the project venv. It contains no upstream code: it calls the package's own functions in the order
`scripts/run_rm.py` (installed with the package) calls them, forced onto CPU in float32 without 8-bit:

- data: `rewardbench.load_eval_dataset(core_set=True, conv=get_conv_template(...), tokenizer=...)`, i.e.
  `prepare_dialogue_from_tokenizer` when the tokenizer has a chat template, else `prepare_dialogue` with the
  FastChat template; only its Hub download is swapped for the local JSONL file;
- model: `REWARD_MODEL_CONFIG["default"]` builder with run_rm's non-quantized CPU kwargs
  (`device_map="cpu"`, `torch_dtype=float32`) and its `RewardBenchPipeline`;
- tokenizer: `truncation_side="left"`, the pad-token fallback to EOS (tokenizer and model config), and
  `add_eos_token = True` when the tokenizer has no chat template, as run_rm sets them;
- inference: `accelerate` DataLoader of `--batch-size` rows, chosen then rejected through the pipeline with
  run_rm's kwargs (`truncation=True, padding=True, max_length`), strict `>` for the result;
- aggregation: per-subset `sum(results) / len(results)` and `calculate_scores_per_section`.

With ``--prior-sets FILE`` (rows in the form upstream's combined load gives them: ``subset`` = the Hub split,
``subsubset`` = the split's own subset column) it also runs the prior sets the way ``run_rm.py --pref_sets``
does: `load_eval_dataset(core_set=False, ...)` (multi-turn prompts through `prepare_dialogue_from_tokenizer`
or FastChat's `prepare_dialogue`), its Hub download swapped for a DatasetDict of the file's splits, scored as
a pass of its own after the core rows.

The one workaround: `RewardBenchPipeline.__call__` moves its inputs with `.to("cuda")`; this process
redirects `BatchEncoding.to("cuda...")` to the CPU instead of editing the package.

Writes one JSON line per pair (subset, id, score_chosen, score_rejected, result, the two texts, their token
ids as the pipeline saw them, and whether the double-BOS guard masked the first token) and a summary JSON.

    /tmp/rbref/bin/python bench/reference_glue.py --model DIR --dataset FILE --out OUT.jsonl --summary S.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from reference_cpu import cpu_only_batch_encoding, restore_removed_doc_names

SIDES = ("chosen", "rejected")


def _local_dataset(path: Path) -> Any:
    """The JSONL file as a `datasets.Dataset`, standing in for the Hub's allenai/reward-bench 'filtered'."""
    import datasets

    return datasets.load_dataset("json", data_files=str(path), split="train")


def _prior_splits(path: Path) -> Any:
    """The prior-sets file as the Hub's DatasetDict: one split per subset, each with its own subset column."""
    import datasets

    splits: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            split = row.pop("subset")
            row["subset"] = row.pop("subsubset", "")
            splits.setdefault(split, []).append(row)
    return datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})


def _real_ids(
    tokenizer: Any, text: str, max_length: int, row: list[int], pad_id: int
) -> tuple[list[int], int]:
    """The text's own ids (tokenized alone, as the pipeline does) and where they start in the padded row."""
    ids: list[int] = tokenizer(text, truncation=True, max_length=max_length, padding=False)["input_ids"]
    start = len(row) - len(ids) if tokenizer.padding_side == "left" else 0
    if row[start : start + len(ids)] != ids or any(
        tok != pad_id for i, tok in enumerate(row) if not start <= i < start + len(ids)
    ):
        raise RuntimeError("the pipeline's padded row is not the text's own ids plus padding")
    return ids, start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="per-pair JSONL")
    parser.add_argument("--summary", required=True, type=Path, help="subset accuracies, sections, settings")
    parser.add_argument("--chat-template", default="tulu", help="FastChat template (run_rm default: tulu)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--prior-sets", type=Path, help="prior-sets rows (JSONL) to score too")
    args = parser.parse_args(argv)

    restore_removed_doc_names()  # a no-op under the transformers upstream pins

    import numpy as np
    import rewardbench
    import rewardbench.utils
    import torch
    import transformers
    from accelerate import Accelerator
    from fastchat.conversation import get_conv_template
    from rewardbench import REWARD_MODEL_CONFIG, check_tokenizer_chat_template, load_eval_dataset
    from rewardbench.constants import EXAMPLE_COUNTS, SUBSET_MAPPING
    from rewardbench.utils import calculate_scores_per_section
    from transformers import AutoTokenizer

    started = time.perf_counter()
    cpu_only_batch_encoding()
    local = _local_dataset(args.dataset)
    prior_splits = _prior_splits(args.prior_sets) if args.prior_sets is not None else None

    def hub_stand_in(name: str, *_a: Any, **_k: Any) -> Any:  # the Hub download, nothing else
        return prior_splits if name == rewardbench.utils.EXTRA_PREF_SETS else local

    rewardbench.utils.load_dataset = hub_stand_in

    accelerator = Accelerator(cpu=True)
    conv = get_conv_template(args.chat_template)
    config = REWARD_MODEL_CONFIG["default"]

    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    tokenizer.truncation_side = "left"
    dataset, subsets = load_eval_dataset(
        core_set=True,
        conv=conv,
        custom_dialogue_formatting=False,
        tokenizer=tokenizer,
        logger=None,
        keep_columns=["text_chosen", "text_rejected", "id"],
    )
    ids = list(dataset["id"])
    parts = [dataset.remove_columns("id")]
    if prior_splits is not None:
        prior, prior_subsets = load_eval_dataset(
            core_set=False,
            conv=conv,
            custom_dialogue_formatting=False,
            tokenizer=tokenizer,
            logger=None,
            keep_columns=["text_chosen", "text_rejected", "id"],
        )
        ids += prior["id"]
        subsets = [*subsets, *prior_subsets]
        parts.append(prior.remove_columns("id"))

    model = config["model_builder"](
        str(args.model), device_map="cpu", torch_dtype=torch.float32, trust_remote_code=False
    )
    reward_pipe = config["pipeline_builder"]("text-classification", model=model, tokenizer=tokenizer)
    if reward_pipe.tokenizer.pad_token_id is None:
        reward_pipe.model.config.pad_token_id = reward_pipe.tokenizer.eos_token_id
        reward_pipe.tokenizer.pad_token_id = reward_pipe.tokenizer.eos_token_id
    if reward_pipe.model.config.pad_token_id is None:
        reward_pipe.model.config.pad_token_id = reward_pipe.tokenizer.pad_token_id
    has_template = bool(check_tokenizer_chat_template(tokenizer))
    if not has_template:
        reward_pipe.tokenizer.add_eos_token = True

    kwargs = {
        "batch_size": args.batch_size,
        "truncation": True,
        "padding": True,
        "max_length": args.max_length,
        "function_to_apply": "none",
        "return_token_type_ids": False,
    }
    reward_pipe.model = accelerator.prepare(reward_pipe.model)
    loaders = [
        accelerator.prepare(
            torch.utils.data.DataLoader(part, batch_size=args.batch_size, shuffle=False, drop_last=False)
        )
        for part in parts
    ]

    pad_id = int(reward_pipe.tokenizer.pad_token_id)
    results: list[int] = []
    scores: dict[str, list[float]] = {"chosen": [], "rejected": []}
    tokens: dict[str, list[list[int]]] = {"chosen": [], "rejected": []}
    masked: dict[str, list[bool]] = {"chosen": [], "rejected": []}
    for batch in (batch for loader in loaders for batch in loader):
        side_scores = {}
        for side in ("chosen", "rejected"):
            texts = batch[f"text_{side}"]
            logits, inputs = reward_pipe(texts, return_inputs=True, **kwargs)
            side_scores[side] = logits.float().cpu().numpy().tolist()
            rows = inputs["input_ids"].tolist()
            mask = inputs["attention_mask"].tolist()
            for text, row, row_mask in zip(texts, rows, mask, strict=True):
                own, start = _real_ids(tokenizer, text, args.max_length, row, pad_id)
                tokens[side].append(own)
                masked[side].append(row_mask[start] == 0)
        for chosen, rejected in zip(side_scores["chosen"], side_scores["rejected"], strict=True):
            results.append(1 if chosen > rejected else 0)  # run_rm compares the 1-element lists
            scores["chosen"].append(float(chosen[0]))
            scores["rejected"].append(float(rejected[0]))

    grouped: dict[str, float] = {}
    for subset in np.unique(subsets):
        chosen_results = [r for r, s in zip(results, subsets, strict=True) if s == subset]
        grouped[str(subset)] = sum(chosen_results) / len(chosen_results)
    sections = calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, grouped)

    texts = {side: [text for part in parts for text in part[f"text_{side}"]] for side in SIDES}
    with args.out.open("w", encoding="utf-8") as out:
        for i, pair_id in enumerate(ids):
            row = {
                "subset": subsets[i],
                "id": int(pair_id),
                "score_chosen": scores["chosen"][i],
                "score_rejected": scores["rejected"][i],
                "result": results[i],
                "text_chosen": texts["chosen"][i],
                "text_rejected": texts["rejected"][i],
                "ids_chosen": tokens["chosen"][i],
                "ids_rejected": tokens["rejected"][i],
                "mask_first_chosen": masked["chosen"][i],
                "mask_first_rejected": masked["rejected"][i],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = {
        "accuracies": grouped,
        "sections": sections,
        "chat_template": "tokenizer" if has_template else args.chat_template,
        "tokenizer_class": type(tokenizer).__name__,
        "padding_side": tokenizer.padding_side,
        "pad_token_id": pad_id,
        "eos_appended_by_tokenizer": bool(
            tokenizer("x")["input_ids"][-1:] == [tokenizer.eos_token_id] and not has_template
        ),
        "attn_implementation": getattr(reward_pipe.model.config, "_attn_implementation", None),
        "versions": {
            "rewardbench": _version("rewardbench"),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
        "seconds": time.perf_counter() - started,
    }
    args.summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
