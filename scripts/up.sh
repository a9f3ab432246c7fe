#!/usr/bin/env bash
# Set up and run the whole service on one machine: SQLite database and an embedded broker under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec rewardboard up "$@"
