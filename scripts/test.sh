#!/usr/bin/env bash
# Set up and run every check: ruff, mypy and the test suite (SQLite, plus PostgreSQL and Redis when reachable).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# .venv-vllm: tests/vllm run judges there on vLLM's CPU build (skipped, saying why, without the registry)
bash scripts/vllm_env.sh
if [ -x .venv-vllm/bin/python ]; then
  export REWARDBOARD_VLLM_PYTHON=${REWARDBOARD_VLLM_PYTHON:-$PWD/.venv-vllm/bin/python}
fi
. .venv/bin/activate
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
ruff check .
mypy
python -m pytest -q "$@"
