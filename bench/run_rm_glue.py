"""Run upstream's own ``scripts/run_rm.py`` (installed with PyPI's ``rewardbench``) on a CPU and a local file.

Runs under the REFERENCE interpreter (the venv of ``bench/compare_reference.py``), never the project venv,
and holds no upstream code: it makes two redirections inside this process, then runs the installed
``scripts.run_rm`` module as ``__main__`` with the arguments given after ``--``:

- ``rewardbench.utils.load_dataset`` (the Hub download of allenai/reward-bench) returns the local JSONL;
- ``BatchEncoding.to("cuda...")``, hard-coded in ``RewardBenchPipeline``, moves to the CPU instead.

    /tmp/rbref/bin/python bench/run_rm_glue.py --dataset FILE -- --model DIR --not_quantized \\
        --torch_dtype float32 --do_not_save --disable_beaker_save

run_rm writes its results under ``./results/`` of the working directory.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from reference_cpu import cpu_only_batch_encoding


def serve_local_dataset(path: Path) -> None:
    import datasets
    import rewardbench.utils

    local = datasets.load_dataset("json", data_files=str(path), split="train")
    rewardbench.utils.load_dataset = lambda *_args, **_kwargs: local


def main(argv: list[str]) -> int:
    ours, _, theirs = _split(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, type=Path)
    args = parser.parse_args(ours)
    cpu_only_batch_encoding()
    serve_local_dataset(args.dataset.resolve())
    sys.argv = ["run_rm.py", *theirs]
    runpy.run_module("scripts.run_rm", run_name="__main__", alter_sys=True)
    return 0


def _split(argv: list[str]) -> tuple[list[str], str, list[str]]:
    if "--" not in argv:
        return argv, "", []
    at = argv.index("--")
    return argv[:at], "--", argv[at + 1 :]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
