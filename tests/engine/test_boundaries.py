from __future__ import annotations

import ast
import json
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


def test_what_the_web_app_imports_from_the_engine_needs_no_torch() -> None:
    modules = "runner results kinds benchmarks dataset outputs spec provenance cli_evaluate cli_aggregate"
    modules += " __main__"
    code = (
        "import importlib, sys\n"
        f"for name in {modules.split()!r}: importlib.import_module('worker.engine.' + name)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ENGINE.parents[1]
    )
    assert completed.stdout.strip() == "[]"


def test_aggregate_never_imports_torch(tmp_path: Path) -> None:
    from tests.engine.test_aggregate import BEAVER

    results = tmp_path / "beaver.json"
    results.write_text(json.dumps(BEAVER))
    code = (
        "import sys; from worker.engine.__main__ import main; code = main(['aggregate', sys.argv[1]]); "
        "print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules)); sys.exit(code)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(results)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ENGINE.parents[1],
    )
    document, _, imported = completed.stdout.rpartition("}")
    assert json.loads(document + "}")["score"] is not None
    assert imported.strip() == "[]"


def test_the_engine_command_line_evaluates_end_to_end(llama_template: Path, tmp_path: Path) -> None:
    from tests.engine.conftest import SAMPLE

    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "worker.engine", "evaluate", str(llama_template)]
    command += ["--dataset", str(SAMPLE), "--limit-per-subset", "1", "--device", "cpu"]
    command += ["--output", str(results), "--no-progress"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ENGINE.parents[1])
    assert completed.returncode == 0, completed.stderr
    record = json.loads(results.read_text())["reproducibility"]
    assert record["attention"] == "varlen" and record["padding"] == "none (packed)"
    assert record["batch_tokens"] >= 2048 and record["batch_tokens_rule"].startswith("cpu: ")
    assert "attention varlen" in completed.stdout
