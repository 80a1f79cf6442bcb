#!/usr/bin/env bash
# The main job: a local HA cluster (3 masters, 2 workers) on loopback, a sample
# deployment applied, nodes and pods shown.  No root needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
export PATH="$PWD/.venv/bin:$PATH"
DIR=run/cluster
skiff up --masters 3 --nodes 2 --dir "$DIR"
skiff --config "$DIR/config" apply -f examples/hello.yaml
for _ in $(seq 60); do  # wait (at most a minute) for the 4 replicas
    ready=$(skiff --config "$DIR/config" get deployment hello -o json \
            | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status", {}).get("readyReplicas", 0))')
    [ "$ready" = 4 ] && break
    sleep 1
done
skiff --config "$DIR/config" get nodes -o wide
skiff --config "$DIR/config" get pods -A -o wide
echo
echo "The cluster keeps running. Try: .venv/bin/skiff --config $DIR/config cluster status"
echo "Stop it with: make down   (or .venv/bin/skiff down --dir $DIR)"
