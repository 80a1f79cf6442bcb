#!/usr/bin/env bash
# The main job: a local 3-member store on loopback, a few keys written, its status shown.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
skiff store local up --dir run/store --members 3
skiff store put /demo/greeting "hello from skiff"
skiff store put /demo/owner "$(id -un)"
skiff store get /demo --prefix
skiff store status
echo
echo "The store keeps running. Stop it with: .venv/bin/skiff store local down --dir run/store"
