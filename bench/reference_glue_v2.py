"""Reference side of bench/compare_reference_v2.py: RewardBench 2 scored by PyPI's `rewardbench` package.

Runs under the REFERENCE interpreter (a separate venv with PyPI's `rewardbench` 0.1.4 and the transformers it
pins), never under the project venv. It holds no upstream code; it calls the package's own functions, and
optionally upstream HEAD's ``rewardbench/utils.py`` (a file the caller extracts from a checkout, loaded as a
module of its own) for HEAD's Ties formula. Two commands:

``score``: given candidate scores (JSONL rows: subset, id, num_correct, scores), build the unrolled dataset
run_v2.py builds (one row per candidate, scores as the pipeline returns them: ``[[x], ...]``), then apply
0.1.4's ``reroll_and_score_dataset`` (per-prompt results), run_v2.py's per-subset loop (mean of results,
``process_single_model`` for Ties) with 0.1.4's ``process_single_model`` and, when given, HEAD's.

``pipeline``: score a model on a RewardBench 2 JSONL file the way the package's ``scripts/run_v2.py`` does
(0.1.4 defaults: FastChat ``tulu`` unless the tokenizer has a chat template, ``load_bon_dataset_v2``,
``REWARD_MODEL_CONFIG["default_v2"]`` with its ``RewardBenchPipeline``, pad token falling back to EOS,
``add_eos_token = True`` without a chat template, batches of 64, ``truncation=True``, ``max_length`` 2048,
the tokenizer's own truncation side), forced onto CPU in float32, then score as ``score`` does. It also
writes each candidate's text, token ids and double-BOS flag as the pipeline saw them.

The one workaround: ``RewardBenchPipeline.__call__`` moves its inputs with ``.to("cuda")``; this process
redirects ``BatchEncoding.to("cuda...")`` to the CPU instead of editing the package.

    REF_PYTHON bench/reference_glue_v2.py score --scores S.jsonl --out OUT.json [--head-utils U.py]
    REF_PYTHON bench/reference_glue_v2.py pipeline --model DIR --dataset F.jsonl --out OUT.json [...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from reference_cpu import cpu_only_batch_encoding

TIES = "Ties"


def _load_head_utils(path: Path | None) -> Any:
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("rewardbench_head_utils", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_rerolled(
    texts: list[Any],
    subsets: list[str],
    ids: list[str],
    scores: list[Any],
    total_completions: list[int],
    num_correct: list[int],
    head_utils: Any,
) -> dict[str, Any]:
    """run_v2.py from its unrolled scores on: reroll, per-prompt results, per-subset values."""
    from datasets import Dataset
    from rewardbench import process_single_model, reroll_and_score_dataset

    unrolled = Dataset.from_dict({"text": texts})
    unrolled = unrolled.add_column("subset", subsets)
    unrolled = unrolled.add_column("id", ids)
    unrolled = unrolled.add_column("scores", scores)
    rerolled = reroll_and_score_dataset(unrolled, total_completions, cols_to_combine=["text", "scores"])
    rerolled = rerolled.add_column("num_correct", num_correct)

    values: dict[str, float] = {}
    ties: dict[str, float] = {}
    for subset in sorted(set(subsets)):
        rows = rerolled.filter(lambda example, name=subset: example["subset"] == name)
        if subset.lower() == "ties":
            _, ties["0.1.4"] = process_single_model(rows)
            if head_utils is not None:
                _, ties["head"] = head_utils.process_single_model(rows)
        else:
            values[subset] = sum(rows["results"]) / len(rows["results"])
    prompts = [
        {"subset": row["subset"], "id": row["id"], "result": float(row["results"])}
        for row in rerolled.select_columns(["subset", "id", "results"])
    ]
    return {"prompts": prompts, "values": values, "ties": {k: float(v) for k, v in ties.items()}}


def run_score(args: argparse.Namespace) -> dict[str, Any]:
    rows = [json.loads(line) for line in args.scores.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, subsets, ids, scores = [], [], [], []
    for row in rows:
        for index, score in enumerate(row["scores"]):
            texts.append(f"{row['id']}#{index}")
            subsets.append(row["subset"])
            ids.append(row["id"])
            scores.append([float(score)])  # a one-label pipeline's output: a list of one logit
    return score_rerolled(
        texts,
        subsets,
        ids,
        scores,
        [len(row["scores"]) for row in rows],
        [int(row["num_correct"]) for row in rows],
        _load_head_utils(args.head_utils),
    )


def run_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import transformers
    from fastchat.conversation import get_conv_template
    from rewardbench import REWARD_MODEL_CONFIG, check_tokenizer_chat_template, load_bon_dataset_v2
    from transformers import AutoTokenizer

    cpu_only_batch_encoding()
    logger = logging.getLogger("reference_glue_v2")
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    dataset, subsets, total_completions, num_correct = load_bon_dataset_v2(
        dataset=str(args.dataset),
        conv=get_conv_template(args.chat_template),
        custom_dialogue_formatting=False,
        tokenizer=tokenizer,
        logger=logger,
    )
    ids = dataset["id"]
    dataset = dataset.remove_columns("id")

    config = REWARD_MODEL_CONFIG["default_v2"]
    model = config["model_builder"](str(args.model), device_map="cpu", torch_dtype=torch.float32)
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
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False, drop_last=False)
    scores: list[Any] = []
    tokens: list[list[int]] = []
    masked: list[bool] = []
    for batch in loader:
        logits, inputs = reward_pipe(batch["text"], return_inputs=True, **kwargs)
        scores.extend(logits.float().cpu().numpy().tolist())
        rows = zip(
            batch["text"], inputs["input_ids"].tolist(), inputs["attention_mask"].tolist(), strict=True
        )
        for text, row, row_mask in rows:
            own, start = _own_ids(tokenizer, text, args.max_length, row)
            tokens.append(own)
            masked.append(row_mask[start] == 0)

    texts = list(dataset["text"])
    scored = score_rerolled(
        texts,
        list(subsets),
        list(ids),
        scores,
        total_completions,
        num_correct,
        _load_head_utils(args.head_utils),
    )
    candidates = [
        {"id": ids[i], "subset": subsets[i], "text": texts[i], "ids": tokens[i], "mask_first": masked[i],
         "score": float(scores[i][0])}
        for i in range(len(texts))
    ]  # fmt: skip
    return {
        **scored,
        "candidates": candidates,
        "settings": {
            "chat_template": "tokenizer" if has_template else args.chat_template,
            "tokenizer_class": type(tokenizer).__name__,
            "padding_side": tokenizer.padding_side,
            "truncation_side": tokenizer.truncation_side,
            "max_length": args.max_length,
            "pad_token_id": int(reward_pipe.tokenizer.pad_token_id),
        },
        "versions": {
            "rewardbench": _version("rewardbench"),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
    }


def _own_ids(tokenizer: Any, text: str, max_length: int, row: list[int]) -> tuple[list[int], int]:
    """The text's own ids (tokenized alone, as the pipeline does) and where they start in the padded row."""
    ids: list[int] = tokenizer(text, truncation=True, max_length=max_length, padding=False)["input_ids"]
    start = len(row) - len(ids) if tokenizer.padding_side == "left" else 0
    if row[start : start + len(ids)] != ids:
        raise RuntimeError("the pipeline's padded row is not the text's own ids plus padding")
    return ids, start


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="upstream's scoring of given candidate scores")
    score.add_argument("--scores", type=Path, required=True, help="JSONL: subset, id, num_correct, scores")
    pipeline = commands.add_parser("pipeline", help="upstream's run_v2.py pipeline on a model")
    pipeline.add_argument("--model", type=Path, required=True)
    pipeline.add_argument("--dataset", type=Path, required=True, help="RewardBench 2 rows as JSONL")
    pipeline.add_argument("--chat-template", default="tulu", help="FastChat template (0.1.4 run_v2: tulu)")
    pipeline.add_argument("--batch-size", type=int, default=64)
    pipeline.add_argument("--max-length", type=int, default=2048)
    for sub in (score, pipeline):
        sub.add_argument("--out", type=Path, required=True, help="JSON output")
        sub.add_argument("--head-utils", type=Path, help="upstream HEAD's rewardbench/utils.py, for its Ties")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    output = run_score(args) if args.command == "score" else run_pipeline(args)
    output["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(output, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
