"""Judge runs in-process on vLLM, several in one process on one engine: each a command line of
``python -m worker.engine``, run in the vLLM venv (``tests/support/vllm_env``):

    .venv-vllm/bin/python tests/endpoints/in_process_runs.py RUNS_JSON

``RUNS_JSON`` is a file holding a list of argument lists (what follows ``python -m worker.engine``). A start
of vLLM's engine costs most of a minute on two cores, so ``vllm.LLM`` is wrapped: a second construction with
the same arguments (the same judge, dtype and context) returns the engine the first one started. Nothing
else is changed. Exits with the status of the first run that fails.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def share_engines() -> dict[str, Any]:
    """Make ``vllm.LLM`` start one engine per set of arguments; returns the engines started, by arguments."""
    import vllm

    engines: dict[str, Any] = {}
    start_engine = vllm.LLM

    def shared_engine(*args: Any, **kwargs: Any) -> Any:
        key = repr((args, sorted(kwargs.items())))
        if key not in engines:
            engines[key] = start_engine(*args, **kwargs)
        return engines[key]

    vllm.LLM = shared_engine
    return engines


def main(argv: Sequence[str]) -> int:
    runs: list[list[str]] = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    engines = share_engines()
    from worker.engine.__main__ import main as engine_main

    for arguments in runs:
        code = engine_main(arguments)
        if code != 0:
            print(f"in_process_runs: exit {code} from {' '.join(arguments)}", file=sys.stderr)
            return code
    print(f"in_process_runs: {len(runs)} runs on {len(engines)} vLLM engine(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
