from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "worker" / "engine"
FORBIDDEN = ("app", "sqlalchemy", "celery", "fastapi")


def test_the_engine_imports_no_web_or_queue_code() -> None:
    offenders = []
    for source in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{source.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_command_modules_load_without_torch() -> None:
    # `rewardboard serve` builds every subcommand's parser: a web-only install must not need torch.
    code = (
        "import sys, worker.engine.cli_evaluate, worker.engine.cli_aggregate; "
        "print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ENGINE.parents[1]
    )
    assert completed.stdout.strip() == "[]"
