"""Reference side of bench/compare_dpo_reference.py: DPO decisions by the installed upstream `rewardbench`.

Runs under the REFERENCE interpreter (a separate venv with PyPI's `rewardbench` and the transformers and
trl it pins), never under the project venv. It holds no upstream code: it calls the package's own pieces in
the order `scripts/run_dpo.py` calls them, on CPU in float32 without 8-bit:

- tokenizer: the policy's, ``pad_token = eos_token``, and BOS = EOS when the tokenizer has no BOS;
- data: `rewardbench.load_eval_dataset(core_set=True, conv=get_conv_template(--chat-template),
  tokenizer=..., keep_columns=["text_chosen", "text_rejected", "id", "prompt"])`, with only its Hub
  download swapped for the local JSONL file;
- models: `DPO_MODEL_CONFIG["default"]` builder (AutoModelForCausalLM) for the policy and the reference,
  with run_dpo's non-quantized kwargs on a machine without CUDA (``torch_dtype=None``, i.e. float32);
- inference: `DPOInference(model, ref_model, tokenizer, accelerator, ref_free_norm)`, its `tokenize_row`
  over the dataset, trl's `DPODataCollatorWithPadding`, batches of --batch-size, `inference_step`, and
  run_dpo's ``1 if chosen > rejected else 0``;
- aggregation: per-subset ``sum(results) / len(results)`` and `calculate_scores_per_section`.

Writes one JSON line per pair (subset, id, the two rewards, the result, and each side's token ids with the
index where its labels start) and a summary JSON.

    /path/to/rbref/bin/python bench/reference_glue_dpo.py --policy DIR [--reference DIR] \\
        --dataset FILE --out OUT.jsonl --summary S.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", required=True, type=Path)
    parser.add_argument("--reference", type=Path, help="omit for reference-free scoring")
    parser.add_argument("--ref-free-type", default="avg", choices=("avg", "sum", "norm"))
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--summary", required=True, type=Path)
    parser.add_argument("--chat-template", default="tulu", help="FastChat template (run_dpo default: tulu)")
    parser.add_argument("--batch-size", type=int, default=6)
    args = parser.parse_args(argv)

    import datasets
    import numpy as np
    import rewardbench.utils
    import torch
    import transformers
    from accelerate import Accelerator
    from fastchat.conversation import get_conv_template
    from rewardbench import DPO_MODEL_CONFIG, DPOInference, load_eval_dataset
    from rewardbench.constants import EXAMPLE_COUNTS, SUBSET_MAPPING
    from rewardbench.utils import calculate_scores_per_section, check_tokenizer_chat_template
    from trl.trainer.utils import DPODataCollatorWithPadding

    started = time.perf_counter()
    local = datasets.load_dataset("json", data_files=str(args.dataset), split="train")
    rewardbench.utils.load_dataset = lambda *_a, **_k: local  # the Hub download, nothing else

    accelerator = Accelerator(cpu=True)
    config = DPO_MODEL_CONFIG["default"]
    tokenizer = config["tokenizer_builder"](str(args.policy), trust_remote_code=False)
    tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token_id = tokenizer.eos_token_id
        tokenizer.pad_token_id = tokenizer.eos_token_id

    dataset, subsets = load_eval_dataset(
        core_set=True,
        conv=get_conv_template(args.chat_template),
        tokenizer=tokenizer,
        logger=None,
        keep_columns=["text_chosen", "text_rejected", "id", "prompt"],
    )
    ids = dataset["id"]
    dataset = dataset.remove_columns("id")

    kwargs: dict[str, Any] = {"device_map": "cpu", "torch_dtype": None}  # run_dpo without CUDA
    model = config["model_builder"](str(args.policy), trust_remote_code=False, **kwargs)
    ref_model = None
    if args.reference is not None:
        ref_model = config["model_builder"](str(args.reference), trust_remote_code=False, **kwargs)
    dpo = DPOInference(
        model, ref_model, tokenizer=tokenizer, accelerator=accelerator, ref_free_norm=args.ref_free_type
    )
    tokenized = dataset.map(dpo.tokenize_row, remove_columns=list(dataset.features))
    loader = torch.utils.data.DataLoader(
        tokenized,
        batch_size=args.batch_size,
        collate_fn=DPODataCollatorWithPadding(
            pad_token_id=tokenizer.pad_token_id,
            label_pad_token_id=dpo.label_pad_token_id,
            is_encoder_decoder=dpo.is_encoder_decoder,
        ),
        shuffle=False,
        drop_last=False,
    )
    results: list[int] = []
    chosen_scores: list[float] = []
    rejected_scores: list[float] = []
    with torch.no_grad():
        for batch in loader:
            chosen, rejected = dpo.inference_step(batch, ref_free=ref_model is None)
            chosen_batch = chosen.float().cpu().numpy().tolist()
            rejected_batch = rejected.float().cpu().numpy().tolist()
            results.extend(1 if c > r else 0 for c, r in zip(chosen_batch, rejected_batch, strict=True))
            chosen_scores.extend(chosen_batch)
            rejected_scores.extend(rejected_batch)

    grouped: dict[str, float] = {}
    for subset in np.unique(subsets):
        mine = [r for r, s in zip(results, subsets, strict=True) if s == subset]
        grouped[str(subset)] = sum(mine) / len(mine)
    with args.out.open("w", encoding="utf-8") as out:
        for index, pair_id in enumerate(ids):
            row = tokenized[index]
            out.write(
                json.dumps(
                    {
                        "subset": subsets[index],
                        "id": int(pair_id),
                        "score_chosen": chosen_scores[index],
                        "score_rejected": rejected_scores[index],
                        "result": results[index],
                        "ids_chosen": row["chosen_input_ids"],
                        "start_chosen": _label_start(row["chosen_labels"]),
                        "ids_rejected": row["rejected_input_ids"],
                        "start_rejected": _label_start(row["rejected_labels"]),
                    }
                )
                + "\n"
            )
    summary = {
        "accuracies": grouped,
        "sections": calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, grouped),
        "chat_template": "tokenizer" if check_tokenizer_chat_template(tokenizer) else args.chat_template,
        "ref_free_norm": dpo.ref_free_norm,
        "batch_size": args.batch_size,
        "versions": {
            "rewardbench": _version("rewardbench"),
            "trl": _version("trl"),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
        "seconds": time.perf_counter() - started,
    }
    args.summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


def _label_start(labels: list[int]) -> int:
    return next(index for index, label in enumerate(labels) if label != -100)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
