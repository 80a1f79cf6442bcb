#!/usr/bin/env bash
# The whole test suite: lint, types, layer contracts, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
bash scripts/system-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";  ruff check .
echo "== mypy";  mypy
echo "== import contracts"; lint-imports
echo "== pytest"; pytest -q -p no:cacheprovider --durations=15 "$@"
